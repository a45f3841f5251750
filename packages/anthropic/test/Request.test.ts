import { Either } from "effect"
import fc from "fast-check"
import type { ChatRequest } from "@sluice/schema"
import { describe, expect, it } from "vitest"
import * as Request from "../src/Request.ts"

/** A value as it arrives on the wire: JSON has no -0 (or undefined), so generated values go through it once. */
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

const decode = (body: unknown, requireMaxTokens = true) => Request.decode(body, { requireMaxTokens })
const ok = (body: unknown): ChatRequest => {
  const r = decode(body)
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}
const errorOf = (body: unknown, requireMaxTokens = true) => {
  const r = decode(body, requireMaxTokens)
  if (Either.isRight(r)) throw new Error("expected an error")
  return r.left
}
const base = { model: "claude", max_tokens: 100 }

describe("Request.decode (wire → canonical)", () => {
  const table: Array<[string, Record<string, unknown>, Partial<ChatRequest>]> = [
    [
      "string content and string system",
      { ...base, system: "be kind", messages: [{ role: "user", content: "hi" }] },
      {
        messages: [
          { role: "system", parts: [{ type: "text", text: "be kind" }] },
          { role: "user", parts: [{ type: "text", text: "hi" }] },
        ],
      },
    ],
    [
      "system blocks",
      {
        ...base,
        system: [
          { type: "text", text: "a", cache_control: { type: "ephemeral" } },
          { type: "text", text: "b" },
        ],
        messages: [{ role: "user", content: "x" }],
      },
      {
        messages: [
          {
            role: "system",
            parts: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
          },
          { role: "user", parts: [{ type: "text", text: "x" }] },
        ],
      },
    ],
    [
      "images (base64, url) and a pdf document",
      {
        ...base,
        messages: [
          {
            role: "user",
            content: [
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBOR" } },
              { type: "image", source: { type: "url", url: "https://x.test/a.jpg" } },
              { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBER" } },
            ],
          },
        ],
      },
      {
        messages: [
          {
            role: "user",
            parts: [
              { type: "image", source: { kind: "base64", mediaType: "image/png", data: "iVBOR" } },
              { type: "image", source: { kind: "url", url: "https://x.test/a.jpg" } },
              { type: "image", source: { kind: "base64", mediaType: "application/pdf", data: "JVBER" } },
            ],
          },
        ],
      },
    ],
    [
      "tool_use and tool_result (string, blocks, is_error) with names resolved",
      {
        ...base,
        messages: [
          { role: "user", content: "go" },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "hmm", signature: "sig1" },
              { type: "redacted_thinking", data: "opaque" },
              { type: "tool_use", id: "toolu_1", name: "f", input: { a: 1 } },
              { type: "tool_use", id: "toolu_2", name: "g", input: {} },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_1", content: "one" },
              {
                type: "tool_result",
                tool_use_id: "toolu_2",
                is_error: true,
                content: [{ type: "text", text: "bad" }],
              },
            ],
          },
        ],
      },
      {
        messages: [
          { role: "user", parts: [{ type: "text", text: "go" }] },
          {
            role: "assistant",
            parts: [
              { type: "reasoning", text: "hmm", signature: "sig1" },
              { type: "reasoning", text: "", redacted: "opaque" },
              { type: "tool_call", id: "toolu_1", name: "f", arguments: '{"a":1}' },
              { type: "tool_call", id: "toolu_2", name: "g", arguments: "{}" },
            ],
          },
          {
            role: "user",
            parts: [
              { type: "tool_result", id: "toolu_1", name: "f", content: [{ type: "text", text: "one" }] },
              {
                type: "tool_result",
                id: "toolu_2",
                name: "g",
                content: [{ type: "text", text: "bad" }],
                isError: true,
              },
            ],
          },
        ],
      },
    ],
    [
      "tools, tool_choice tool with disable_parallel_tool_use, sampling, thinking, user, extras",
      {
        ...base,
        messages: [{ role: "user", content: "x" }],
        tools: [
          { name: "f", description: "F", input_schema: { type: "object", properties: { a: { type: "number" } } } },
          { type: "web_search_20250305", name: "web_search", max_uses: 2 },
        ],
        tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: true },
        temperature: 0.3,
        top_p: 0.9,
        top_k: 5,
        stop_sequences: ["END"],
        thinking: { type: "enabled", budget_tokens: 2048 },
        metadata: { user_id: "u-1" },
        service_tier: "standard_only",
        stream: true,
      },
      {
        tools: [{ name: "f", description: "F", parameters: { type: "object", properties: { a: { type: "number" } } } }],
        toolChoice: { mode: "required", allowed: ["f"] },
        parallelToolCalls: false,
        temperature: 0.3,
        topP: 0.9,
        topK: 5,
        stop: ["END"],
        reasoning: { budgetTokens: 2048, includeThoughts: true },
        user: "u-1",
        stream: true,
        extras: {
          anthropic: {
            service_tier: "standard_only",
            server_tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 2 }],
          },
        },
      },
    ],
    [
      "tool_choice any / none / auto",
      { ...base, messages: [{ role: "user", content: "x" }], tool_choice: { type: "any" } },
      { toolChoice: { mode: "required" } },
    ],
    [
      "thinking disabled",
      {
        ...base,
        messages: [{ role: "user", content: "x" }],
        thinking: { type: "disabled" },
        tool_choice: { type: "none" },
      },
      { reasoning: { effort: "none" }, toolChoice: { mode: "none" } },
    ],
  ]
  for (const [name, body, expected] of table) {
    it(name, () => {
      expect(ok(body)).toMatchObject({ model: "claude", maxTokens: 100, stream: false, ...expected })
    })
  }

  const errors: Array<[string, unknown, string]> = [
    ["no max_tokens", { model: "m", messages: [] }, "max_tokens"],
    ["max_tokens zero", { ...base, max_tokens: 0, messages: [] }, "max_tokens"],
    ["no model", { max_tokens: 5, messages: [] }, "model"],
    ["temperature above 1", { ...base, temperature: 1.5, messages: [] }, "temperature"],
    ["a bad role", { ...base, messages: [{ role: "system", content: "x" }] }, "messages.0.role"],
    [
      "an unknown block",
      { ...base, messages: [{ role: "user", content: [{ type: "video" }] }] },
      "messages.0.content.0",
    ],
    [
      "a tool_use without input",
      { ...base, messages: [{ role: "assistant", content: [{ type: "tool_use", id: "a", name: "f" }] }] },
      "messages.0.content.0.input",
    ],
    [
      "a Files API image",
      { ...base, messages: [{ role: "user", content: [{ type: "image", source: { type: "file", file_id: "f" } }] }] },
      "messages.0.content.0.source.type",
    ],
    [
      "thinking budget below 1024",
      { ...base, messages: [], thinking: { type: "enabled", budget_tokens: 10 } },
      "thinking",
    ],
    [
      "a tool without input_schema type object",
      { ...base, messages: [], tools: [{ name: "f", input_schema: { type: "string" } }] },
      "tools.0",
    ],
  ]
  for (const [name, body, param] of errors) {
    it(`refuses ${name}, naming ${param}`, () => {
      const e = errorOf(body)
      expect(e._tag).toBe("InvalidRequest")
      expect(e.message.startsWith(param)).toBe(true)
    })
  }

  it("refuses a body that is not an object", () => {
    expect(errorOf([1, 2]).message).toContain("JSON object")
  })

  it("count_tokens needs no max_tokens", () => {
    expect(Either.isRight(decode({ model: "m", messages: [{ role: "user", content: "x" }] }, false))).toBe(true)
  })
})

describe("Request.encode (canonical → wire)", () => {
  const chat = (over: Partial<ChatRequest>): ChatRequest => ({
    model: "claude-x",
    messages: [],
    stream: false,
    ...over,
  })

  it("gathers system text, merges same-role turns, puts tool results first in user turns", () => {
    const out = Request.encode(
      chat({
        messages: [
          { role: "system", parts: [{ type: "text", text: "one" }] },
          { role: "user", parts: [{ type: "text", text: "a" }] },
          { role: "user", parts: [{ type: "text", text: "b" }] },
          { role: "system", parts: [{ type: "text", text: "two" }] },
          { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "f", arguments: '{"x":1}' }] },
          { role: "assistant", parts: [{ type: "tool_call", id: "c2", name: "f", arguments: "" }] },
          {
            role: "tool",
            parts: [{ type: "tool_result", id: "c1", name: "f", content: [{ type: "text", text: "r1" }] }],
          },
          { role: "user", parts: [{ type: "text", text: "and" }] },
          {
            role: "tool",
            parts: [{ type: "tool_result", id: "c2", name: "f", content: [], structured: { ok: true } }],
          },
        ],
      }),
    )
    expect(out.system).toEqual([
      { type: "text", text: "one" },
      { type: "text", text: "two" },
    ])
    expect(out.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "a" },
          { type: "text", text: "b" },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "c1", name: "f", input: { x: 1 } },
          { type: "tool_use", id: "c2", name: "f", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "c1", content: "r1" },
          { type: "tool_result", tool_use_id: "c2", content: '{"ok":true}' },
          { type: "text", text: "and" },
        ],
      },
    ])
    expect(out.max_tokens).toBe(4096)
  })

  it("drops empty text, empty turns and unsigned reasoning; keeps signed and redacted thinking", () => {
    const out = Request.encode(
      chat({
        messages: [
          { role: "user", parts: [{ type: "text", text: "q" }] },
          {
            role: "assistant",
            parts: [
              { type: "reasoning", text: "deepseek thoughts" },
              { type: "reasoning", text: "t", signature: "s" },
              { type: "reasoning", text: "", redacted: "r" },
              { type: "text", text: "" },
              { type: "text", text: "answer", signature: "gemini-sig" },
            ],
          },
          { role: "user", parts: [{ type: "text", text: "" }] },
        ],
      }),
    )
    expect(out.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "q" }] },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "t", signature: "s" },
          { type: "redacted_thinking", data: "r" },
          { type: "text", text: "answer" },
        ],
      },
    ])
  })

  it("clamps temperature, maps tool choice, fills tool schemas, passes extras", () => {
    const out = Request.encode(
      chat({
        messages: [{ role: "user", parts: [{ type: "text", text: "q" }] }],
        temperature: 1.7,
        maxTokens: 50,
        tools: [{ name: "noargs" }, { name: "f", parameters: { properties: { a: { type: "string" } } } }],
        toolChoice: { mode: "required" },
        parallelToolCalls: false,
        user: "u",
        stop: ["x"],
        extras: { anthropic: { service_tier: "auto", model: "not-this" } },
      }),
      { defaultMaxTokens: 10 },
    )
    expect(out).toMatchObject({
      model: "claude-x",
      max_tokens: 50,
      temperature: 1,
      stop_sequences: ["x"],
      metadata: { user_id: "u" },
      tool_choice: { type: "any", disable_parallel_tool_use: true },
      tools: [
        { name: "noargs", input_schema: { type: "object", properties: {} } },
        { name: "f", input_schema: { type: "object", properties: { a: { type: "string" } } } },
      ],
      service_tier: "auto",
    })
    expect(Request.encode(chat({ toolChoice: { mode: "required", allowed: ["f"] } })).tool_choice).toEqual({
      type: "tool",
      name: "f",
    })
    expect(Request.encode(chat({ toolChoice: { mode: "none" } })).tool_choice).toEqual({ type: "none" })
  })

  it("turns reasoning into a thinking budget below max_tokens, without temperature or top_k", () => {
    const messages: ChatRequest["messages"] = [{ role: "user", parts: [{ type: "text", text: "q" }] }]
    const effort = Request.encode(chat({ messages, reasoning: { effort: "medium" }, temperature: 0.2, topK: 3 }))
    expect(effort.thinking).toEqual({ type: "enabled", budget_tokens: 8192 })
    expect(effort.max_tokens).toBeGreaterThan(8192)
    expect(effort.temperature).toBeUndefined()
    expect(effort.top_k).toBeUndefined()
    const tooSmall = Request.encode(chat({ messages, reasoning: { budgetTokens: 5000 }, maxTokens: 2000 }))
    expect(tooSmall.thinking).toBeUndefined()
    const forced = Request.encode(
      chat({ messages, reasoning: { budgetTokens: 2000 }, toolChoice: { mode: "required" } }),
    )
    expect(forced.thinking).toBeUndefined()
    expect(Request.encode(chat({ messages, reasoning: { effort: "none" } })).thinking).toBeUndefined()
  })

  it("turns thinking off mid tool loop when the last assistant turn has no signed thinking", () => {
    const out = Request.encode(
      chat({
        reasoning: { budgetTokens: 2000 },
        messages: [
          { role: "user", parts: [{ type: "text", text: "q" }] },
          { role: "assistant", parts: [{ type: "tool_call", id: "c", name: "f", arguments: "{}" }] },
          {
            role: "tool",
            parts: [{ type: "tool_result", id: "c", name: "f", content: [{ type: "text", text: "r" }] }],
          },
        ],
      }),
    )
    expect(out.thinking).toBeUndefined()
  })

  it("count_tokens bodies carry only what count_tokens accepts", () => {
    const out = Request.encodeCountTokens(
      chat({ messages: [{ role: "user", parts: [{ type: "text", text: "q" }] }], temperature: 0.5, maxTokens: 5 }),
    )
    expect(Object.keys(out).sort()).toEqual(["messages", "model"])
  })
})

describe("property: a valid Messages request survives decode → encode", () => {
  const text = fc.string({ minLength: 1, maxLength: 20 }).map((t) => ({ type: "text" as const, text: t }))
  const image = fc.constantFrom(
    { type: "image" as const, source: { type: "base64" as const, media_type: "image/png", data: "iVBORw0KGgo=" } },
    { type: "image" as const, source: { type: "url" as const, url: "https://example.test/cat.jpg" } },
  )
  const thinking = fc
    .tuple(fc.string({ maxLength: 20 }), fc.string({ minLength: 1, maxLength: 20 }))
    .map(([t, s]) => ({ type: "thinking" as const, thinking: t, signature: s }))
  const json = fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })).map(wire)

  /** Alternating turns; each assistant tool_use is answered first thing in the next user turn. */
  const conversation = fc
    .array(
      fc.record({
        user: fc.array(fc.oneof(text, image), { minLength: 1, maxLength: 3 }),
        thoughts: fc.array(thinking, { maxLength: 1 }),
        say: fc.array(text, { minLength: 1, maxLength: 2 }),
        calls: fc.array(
          fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), json, fc.string({ minLength: 1, maxLength: 10 }), fc.boolean()),
          {
            maxLength: 2,
          },
        ),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((turns) => {
      const messages: Array<Record<string, unknown>> = []
      let pending: Array<Record<string, unknown>> = []
      turns.forEach((t, i) => {
        messages.push({ role: "user", content: [...pending, ...t.user] })
        const uses = t.calls.map(([name, input], j) => ({ type: "tool_use", id: `toolu_${i}_${j}`, name, input }))
        const assistant = [...t.thoughts, ...t.say, ...uses]
        pending = t.calls.map(([, , result, isError], j) => ({
          type: "tool_result",
          tool_use_id: `toolu_${i}_${j}`,
          content: result,
          ...(isError ? { is_error: true } : {}),
        }))
        if (assistant.length > 0) messages.push({ role: "assistant", content: assistant })
        else pending = []
      })
      if (pending.length > 0) messages.push({ role: "user", content: pending })
      return messages
    })

  it("gives back the same turns, blocks, tools and parameters", () => {
    fc.assert(
      fc.property(
        conversation,
        fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        (messages, system, max_tokens, temperature) => {
          const body = {
            model: "claude-x",
            max_tokens,
            messages,
            ...(system !== undefined ? { system: [{ type: "text", text: system }] } : {}),
            ...(temperature !== undefined ? { temperature } : {}),
            tools: [{ name: "t", description: "d", input_schema: { type: "object", properties: {} } }],
          }
          const back = Request.encode(ok(body))
          expect(back).toEqual(body)
        },
      ),
      { numRuns: 300 },
    )
  })
})
