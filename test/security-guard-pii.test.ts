/**
 * PII in every field that reaches the upstream, through a real `sluice start`, from each client
 * format: tool descriptions and enums, `user`, `metadata`, the `response_format` schema, `stop`,
 * message `name`, tool-call ids, image URLs — in plain and disguised forms (zero-width
 * characters, fullwidth, Cyrillic look-alikes). With a redacting policy the upstream (which
 * records every request) never receives the address and the request still works; with a
 * blocking one the client gets a 400 and the upstream is never called.
 */
import Anthropic from "@anthropic-ai/sdk"
import { GoogleGenAI } from "@google/genai"
import { OpenAIUpstream } from "@sluice/testing"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

const upstreamKey = "sk-upstream-guard-pii-0001"
const plain = "carol.private@example.org"
const disguises = [
  plain,
  "carol.private\u200B@exam\u200Dple.org", // zero-width space and joiner
  "ｃａｒｏｌ．ｐｒｉｖａｔｅ＠ｅｘａｍｐｌｅ．ｏｒｇ", // fullwidth
  "cаrol.privаte@exаmple.оrg", // Cyrillic а and о
  "carol.pri\u00ADvate@example.org", // soft hyphen
]
/** What must never reach the upstream, in any form the address was sent in. */
const leaked = (body: unknown) => {
  const text = JSON.stringify(body).normalize("NFKC")
  return /carol|private|ｃａｒｏｌ|cаrol/i.test(text.replace(/[\u200B-\u200D\u00AD]/g, ""))
}

let upstream: OpenAIUpstream.OpenAIUpstream
let gw: SluiceProcess

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: upstreamKey })
  gw = await startSluice(
    [
      "providers:",
      `  up: { type: openai, baseUrl: "${upstream.baseUrl}", apiKey: "${upstreamKey}" }`,
      "models:",
      "  masked: { provider: up, model: gpt-4o-mini }",
      "  strict: { provider: up, model: gpt-4o }",
      "guardrails:",
      "  global: []",
      "  routes:",
      "    - { match: masked, policies: [mask-pii] }",
      "    - { match: strict, policies: [no-pii] }",
      "  policies:",
      "    mask-pii: { on: [input], pii: [email], action: redact }",
      "    no-pii: { on: [input], pii: [email] }",
      "",
    ].join("\n"),
  )
}, 120_000)

afterAll(async () => {
  await gw?.stop()
  await upstream?.close()
})

const openai = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "x", maxRetries: 0 })
const anthropic = () => new Anthropic({ baseURL: gw.url, apiKey: "x", maxRetries: 0 })
const gemini = () => new GoogleGenAI({ apiKey: "x", httpOptions: { baseUrl: gw.url } })

/** An OpenAI chat request with `email` in every field besides the user's text. */
const openaiEverywhere = (model: string, email: string): OpenAI.ChatCompletionCreateParamsNonStreaming => ({
  model,
  user: email,
  metadata: { owner: email },
  stop: [email],
  response_format: {
    type: "json_schema",
    json_schema: { name: "answer", schema: { type: "object", description: `send to ${email}` } },
  },
  tools: [
    {
      type: "function",
      function: {
        name: "lookup",
        description: `Looks people up; escalate to ${email}`,
        parameters: { type: "object", properties: { who: { type: "string", enum: ["me", email] } } },
      },
    },
  ],
  messages: [
    { role: "user", name: "someone", content: "who am I?" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: `call_${email}`, type: "function", function: { name: "lookup", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: `call_${email}`, content: "found" },
    {
      role: "user",
      content: [
        { type: "text", text: "and this picture?" },
        { type: "image_url", image_url: { url: `https://img.example.com/p.png?owner=${email}` } },
      ],
    },
  ],
})

describe("PII in every upstream-bound field (real `sluice start`)", () => {
  for (const email of disguises) {
    const label = JSON.stringify(email)
    it(`openai chat, ${label}: redacted everywhere before the upstream; the call still works`, async () => {
      const before = upstream.requests.length
      const r = await openai().chat.completions.create(openaiEverywhere("masked", email))
      expect(r.choices[0]?.message).toBeDefined()
      const sent = upstream.requests.slice(before)
      expect(sent).toHaveLength(1)
      expect(leaked(sent[0]!.body)).toBe(false)
      expect(JSON.stringify(sent[0]!.body)).toContain("[REDACTED:email]")
      // The call and its result keep matching ids.
      const messages = (sent[0]!.body as { messages: Array<Record<string, unknown>> }).messages
      const callId = (messages[1]!.tool_calls as Array<{ id: string }>)[0]!.id
      expect(messages[2]!.tool_call_id).toBe(callId)
    })

    it(`openai chat, ${label}: a blocking policy answers 400 and calls nothing`, async () => {
      const before = upstream.requests.length
      const e = await openai()
        .chat.completions.create(openaiEverywhere("strict", email))
        .catch((err: unknown) => err)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      expect(String((e as Error).message)).not.toMatch(/carol/i)
      expect(upstream.requests.length).toBe(before)
    })
  }

  it("each field alone is enough to block (nothing slips through a field the others cover)", async () => {
    const email = disguises[1]!
    const base: OpenAI.ChatCompletionCreateParamsNonStreaming = {
      model: "strict",
      messages: [{ role: "user", content: "hi" }],
    }
    const variants: Array<Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>> = [
      { user: email },
      { metadata: { owner: email } },
      { stop: [email] },
      { messages: [{ role: "user", name: email.replace(/[^\w]/g, "_"), content: "hi" }] },
      { response_format: { type: "json_schema", json_schema: { name: "a", schema: { enum: [email] } } } },
      {
        tools: [{ type: "function", function: { name: "f", description: email, parameters: { type: "object" } } }],
      },
      {
        messages: [
          { role: "user", content: [{ type: "image_url", image_url: { url: `https://x.example/${email}` } }] },
        ],
      },
    ]
    const before = upstream.requests.length
    for (const v of variants) {
      const e = await openai()
        .chat.completions.create({ ...base, ...v })
        .catch((err: unknown) => err)
      // A message name cannot hold an "@": that variant is a name that merely mentions the
      // person and passes; every other field must be refused.
      if (v.messages?.[0] && "name" in v.messages[0]) continue
      expect(e, JSON.stringify(v)).toBeInstanceOf(OpenAI.BadRequestError)
    }
    expect(upstream.requests.length - before).toBe(1)
  })

  it("anthropic messages: metadata.user_id, tool description, stop_sequences and tool_use ids are redacted", async () => {
    const email = disguises[3]!
    const before = upstream.requests.length
    await anthropic().messages.create({
      model: "masked",
      max_tokens: 64,
      metadata: { user_id: email },
      stop_sequences: [email],
      tools: [
        {
          name: "lookup",
          description: `escalate to ${email}`,
          input_schema: { type: "object", properties: { who: { type: "string", enum: [email] } } },
        },
      ],
      messages: [
        { role: "user", content: "who?" },
        { role: "assistant", content: [{ type: "tool_use", id: `toolu_${email}`, name: "lookup", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${email}`, content: "found" }] },
      ],
    })
    const sent = upstream.requests.slice(before)
    expect(sent).toHaveLength(1)
    expect(leaked(sent[0]!.body)).toBe(false)
    expect(JSON.stringify(sent[0]!.body).split("[REDACTED:email]").length - 1).toBeGreaterThanOrEqual(3)
  })

  it("gemini generateContent: function description, enum, stopSequences and response schema are redacted", async () => {
    const email = disguises[2]!
    const before = upstream.requests.length
    await gemini().models.generateContent({
      model: "masked",
      contents: [{ role: "user", parts: [{ text: "who?" }] }],
      config: {
        stopSequences: [email],
        responseMimeType: "application/json",
        responseSchema: { type: "OBJECT" as never, description: email },
        tools: [
          {
            functionDeclarations: [
              {
                name: "lookup",
                description: `escalate to ${email}`,
                parameters: {
                  type: "OBJECT" as never,
                  properties: { who: { type: "STRING" as never, enum: [email] } },
                },
              },
            ],
          },
        ],
      },
    })
    const sent = upstream.requests.slice(before)
    expect(sent).toHaveLength(1)
    expect(leaked(sent[0]!.body)).toBe(false)
    expect(JSON.stringify(sent[0]!.body).split("[REDACTED:email]").length - 1).toBeGreaterThanOrEqual(3)
  })
})
