import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { type ChatRequest, type ChatResponse, Errors } from "@sluice/schema"
import * as Dialect from "../src/Dialect.ts"
import * as EmbeddingsCodec from "../src/EmbeddingsCodec.ts"
import * as ErrorCodec from "../src/ErrorCodec.ts"
import * as RequestCodec from "../src/RequestCodec.ts"
import * as ResponseCodec from "../src/ResponseCodec.ts"

const ok = (body: unknown) => {
  const r = RequestCodec.decode(body)
  if (Either.isLeft(r)) throw new Error(`expected success, got ${r.left.message}`)
  return r.right
}
const fails = (body: unknown) => {
  const r = RequestCodec.decode(body)
  if (Either.isRight(r)) throw new Error("expected a failure")
  return r.left
}

const user = (content: unknown) => ({ model: "m", messages: [{ role: "user", content }] })

describe("RequestCodec.decode: wire → canonical", () => {
  it.each([
    ["a string", "hi", [{ type: "text", text: "hi" }]],
    [
      "text parts",
      [
        { type: "text", text: "a" },
        { type: "text", text: "b" },
      ],
      [
        { type: "text", text: "a" },
        { type: "text", text: "b" },
      ],
    ],
    [
      "a data: image",
      [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA", detail: "low" } }],
      [{ type: "image", source: { kind: "base64", mediaType: "image/png", data: "AAAA" } }],
    ],
    [
      "an http image",
      [{ type: "image_url", image_url: { url: "https://x.test/a.png" } }],
      [{ type: "image", source: { kind: "url", url: "https://x.test/a.png" } }],
    ],
    [
      "input audio",
      [{ type: "input_audio", input_audio: { data: "UklG", format: "wav" } }],
      [{ type: "image", source: { kind: "base64", mediaType: "audio/wav", data: "UklG" } }],
    ],
    [
      "a pdf file",
      [{ type: "file", file: { file_data: "data:application/pdf;base64,JVBE", filename: "a.pdf" } }],
      [{ type: "image", source: { kind: "base64", mediaType: "application/pdf", data: "JVBE" } }],
    ],
  ])("user content: %s", (_, content, parts) => {
    expect(ok(user(content)).chat.messages).toEqual([{ role: "user", parts }])
  })

  it("maps system and developer to system turns, keeps their order", () => {
    const { chat } = ok({
      model: "m",
      messages: [
        { role: "developer", content: "d" },
        { role: "user", content: "u" },
        { role: "system", content: [{ type: "text", text: "s" }] },
      ],
    })
    expect(chat.messages.map((m) => m.role)).toEqual(["system", "user", "system"])
  })

  it("maps assistant tool calls and consecutive tool messages (one tool turn, names resolved)", () => {
    const { chat } = ok({
      model: "m",
      messages: [
        { role: "user", content: "go" },
        {
          role: "assistant",
          content: "",
          reasoning_content: "hmm",
          tool_calls: [
            { id: "c1", type: "function", function: { name: "a", arguments: "{}" } },
            { id: "c2", type: "function", function: { name: "b", arguments: '{"x":1}' } },
          ],
        },
        { role: "tool", tool_call_id: "c1", content: "r1" },
        { role: "tool", tool_call_id: "c2", content: [{ type: "text", text: "r2" }] },
      ],
    })
    expect(chat.messages.slice(1)).toEqual([
      {
        role: "assistant",
        parts: [
          { type: "reasoning", text: "hmm" },
          { type: "tool_call", id: "c1", name: "a", arguments: "{}" },
          { type: "tool_call", id: "c2", name: "b", arguments: '{"x":1}' },
        ],
      },
      {
        role: "tool",
        parts: [
          { type: "tool_result", id: "c1", name: "a", content: [{ type: "text", text: "r1" }] },
          { type: "tool_result", id: "c2", name: "b", content: [{ type: "text", text: "r2" }] },
        ],
      },
    ])
  })

  it("maps generation parameters", () => {
    const { chat, includeUsage } = ok({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 10,
      max_completion_tokens: 20,
      temperature: 0.3,
      top_p: 0.9,
      stop: "END",
      seed: 3,
      n: 1,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      reasoning_effort: "xhigh",
      user: "u",
      metadata: { k: "v" },
      response_format: { type: "json_schema", json_schema: { name: "out", schema: { type: "object" }, strict: true } },
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" }, strict: null } }],
      tool_choice: { type: "function", function: { name: "f" } },
      parallel_tool_calls: false,
      stream: true,
      stream_options: { include_usage: true },
      logprobs: true,
      service_tier: "flex",
    })
    expect(chat).toEqual({
      model: "m",
      messages: [{ role: "user", parts: [{ type: "text", text: "x" }] }],
      maxTokens: 20,
      temperature: 0.3,
      topP: 0.9,
      stop: ["END"],
      seed: 3,
      presencePenalty: 0.1,
      frequencyPenalty: 0.2,
      reasoning: { effort: "high", includeThoughts: true },
      user: "u",
      metadata: { k: "v" },
      responseFormat: { type: "json_schema", name: "out", schema: { type: "object" }, strict: true },
      tools: [{ name: "f", parameters: { type: "object" } }],
      toolChoice: { mode: "required", allowed: ["f"] },
      parallelToolCalls: false,
      stream: true,
      extras: { openai: { logprobs: true, service_tier: "flex" } },
    } satisfies ChatRequest)
    expect(includeUsage).toBe(true)
  })

  it.each([
    ["json_object", { type: "json_object" }, { type: "json" }],
    ["text", { type: "text" }, { type: "text" }],
  ])("response_format %s", (_, format, expected) => {
    expect(ok({ ...user("x"), response_format: format }).chat.responseFormat).toEqual(expected)
  })

  it.each([
    ["none", "none", { mode: "none" }],
    ["required", "required", { mode: "required" }],
    [
      "allowed_tools",
      {
        type: "allowed_tools",
        allowed_tools: { mode: "auto", tools: [{ type: "function", function: { name: "a" } }] },
      },
      { mode: "auto", allowed: ["a"] },
    ],
  ])("tool_choice %s", (_, choice, expected) => {
    expect(ok({ ...user("x"), tool_choice: choice }).chat.toolChoice).toEqual(expected)
  })

  it.each([
    ["missing model", { messages: [{ role: "user", content: "x" }] }, "model"],
    ["empty messages", { model: "m", messages: [] }, "messages"],
    ["n > 1", { ...user("x"), n: 3 }, "n"],
    ["unknown role", { model: "m", messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
    ["bad part type", user([{ type: "video", url: "x" }]), "messages[0].content[0].type"],
    [
      "bad image url",
      user([{ type: "image_url", image_url: { url: "file:///etc/passwd" } }]),
      "messages[0].content[0].image_url.url",
    ],
    [
      "file by a foreign id",
      user([{ type: "file", file: { file_id: "file-AbC_1" } }]),
      "messages[0].content[0].file.file_id",
    ],
    ["file without data or id", user([{ type: "file", file: {} }]), "messages[0].content[0].file.file_id"],
    [
      "orphan tool message",
      {
        model: "m",
        messages: [
          { role: "user", content: "x" },
          { role: "tool", tool_call_id: "nope", content: "r" },
        ],
      },
      "messages[1].tool_call_id",
    ],
    ["temperature as string", { ...user("x"), temperature: "hot" }, "temperature"],
    ["bad reasoning_effort", { ...user("x"), reasoning_effort: "extreme" }, "reasoning_effort"],
    ["tool without name", { ...user("x"), tools: [{ type: "function", function: {} }] }, "tools[0].function.name"],
  ])("400 naming the field: %s", (_, body, param) => {
    const e = fails(body)
    expect(e).toBeInstanceOf(Errors.InvalidRequest)
    expect(e.param).toBe(param)
    expect(e.message).toContain(param)
  })

  it("a non-object body is a 400 without a param", () => {
    expect(fails([1, 2]).param).toBeUndefined()
  })
})

const chat = (overrides: Partial<ChatRequest>): ChatRequest => ({
  model: "up",
  messages: [{ role: "user", parts: [{ type: "text", text: "hi" }] }],
  stream: false,
  ...overrides,
})

describe("RequestCodec.encode: canonical → wire", () => {
  it("moves tool results out of user turns into tool messages first, and joins system text", () => {
    const body = RequestCodec.encode(
      chat({
        messages: [
          {
            role: "system",
            parts: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
          },
          { role: "user", parts: [{ type: "text", text: "go" }] },
          {
            role: "assistant",
            parts: [
              { type: "reasoning", text: "thinking", signature: "sig" },
              { type: "text", text: "calling" },
              { type: "tool_call", id: "t1", name: "f", arguments: "{}" },
            ],
          },
          {
            role: "user",
            parts: [
              { type: "tool_result", id: "t1", name: "f", content: [], structured: { ok: true } },
              { type: "text", text: "and then?" },
              { type: "image", source: { kind: "base64", mediaType: "image/jpeg", data: "AA" } },
            ],
          },
        ],
      }),
      Dialect.openai,
    )
    expect(body.messages).toEqual([
      { role: "system", content: "ab" },
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: "calling",
        tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "t1", content: '{"ok":true}' },
      {
        role: "user",
        content: [
          { type: "text", text: "and then?" },
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,AA" } },
        ],
      },
    ])
  })

  it("sends audio as input_audio and documents as file_data", () => {
    const body = RequestCodec.encode(
      chat({
        messages: [
          {
            role: "user",
            parts: [
              { type: "image", source: { kind: "base64", mediaType: "audio/mpeg", data: "ID3" } },
              { type: "image", source: { kind: "base64", mediaType: "application/pdf", data: "JVBE" } },
            ],
          },
        ],
      }),
      Dialect.openai,
    )
    expect(body.messages[0]).toEqual({
      role: "user",
      content: [
        { type: "input_audio", input_audio: { data: "ID3", format: "mp3" } },
        { type: "file", file: { file_data: "data:application/pdf;base64,JVBE", filename: "document.pdf" } },
      ],
    })
  })

  it.each([
    ["openai", Dialect.openai, { max_completion_tokens: 99, reasoning_effort: "low", metadata: { a: "b" } }],
    ["compatible", Dialect.compatible, { max_tokens: 99, reasoning_effort: "low" }],
    ["deepseek-like", { ...Dialect.compatible, reasoningEffort: false }, { max_tokens: 99 }],
  ])("dialect %s picks its fields", (_, dialect, expected) => {
    const body = RequestCodec.encode(
      chat({ maxTokens: 99, reasoning: { budgetTokens: 1024 }, metadata: { a: "b" } }),
      dialect,
    )
    const picked = Object.fromEntries(
      ["max_tokens", "max_completion_tokens", "reasoning_effort", "metadata"].flatMap((k) =>
        k in body ? [[k, body[k]]] : [],
      ),
    )
    expect(picked).toEqual(expected)
  })

  it("leaves tool_choice and parallel_tool_calls out when there are no tools", () => {
    const body = RequestCodec.encode(chat({ toolChoice: { mode: "auto" }, parallelToolCalls: false }), Dialect.openai)
    expect("tool_choice" in body || "parallel_tool_calls" in body).toBe(false)
  })

  it("maps tool choice forms and adds include_usage when streaming", () => {
    const tools = [{ name: "a" }, { name: "b" }]
    const one = RequestCodec.encode(
      chat({ tools, toolChoice: { mode: "required", allowed: ["a"] }, stream: true }),
      Dialect.openai,
    )
    expect(one.tool_choice).toEqual({ type: "function", function: { name: "a" } })
    expect(one.tools![0]!.function.parameters).toEqual({ type: "object", properties: {} })
    expect(one.stream_options).toEqual({ include_usage: true })
    const some = RequestCodec.encode(chat({ tools, toolChoice: { mode: "auto", allowed: ["a", "b"] } }), Dialect.openai)
    expect(some.tool_choice).toEqual({
      type: "allowed_tools",
      allowed_tools: {
        mode: "auto",
        tools: [
          { type: "function", function: { name: "a" } },
          { type: "function", function: { name: "b" } },
        ],
      },
    })
  })

  it("passes unmodelled client fields on, never over the modelled ones", () => {
    const body = RequestCodec.encode(
      chat({ extras: { openai: { logprobs: true, model: "hijack", stream: true } } }),
      Dialect.openai,
    )
    expect(body.logprobs).toBe(true)
    expect(body.model).toBe("up")
    expect(body.stream).toBeUndefined()
  })

  it("decode ∘ encode keeps a conversation", () => {
    const original = ok({
      model: "up",
      messages: [
        { role: "system", content: "s" },
        {
          role: "user",
          content: [
            { type: "text", text: "q" },
            { type: "image_url", image_url: { url: "https://x/y.png" } },
          ],
        },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c", content: "r" },
      ],
    }).chat
    expect(ok(RequestCodec.encode(original, Dialect.openai)).chat).toEqual(original)
  })
})

const response = (overrides: Partial<ChatResponse>): ChatResponse => ({
  id: "r1",
  model: "m",
  parts: [{ type: "text", text: "hi" }],
  finishReason: "stop",
  usage: { inputTokens: 3, outputTokens: 2 },
  created: 5,
  ...overrides,
})

describe("ResponseCodec", () => {
  it.each([
    ["stop", "stop"],
    ["stop_sequence", "stop"],
    ["length", "length"],
    ["tool_calls", "tool_calls"],
    ["content_filter", "content_filter"],
    ["refusal", "content_filter"],
    ["error", "stop"],
    ["other", "stop"],
  ] as const)("finish %s → %s", (canonical, wire) => {
    expect(ResponseCodec.wireFinish(canonical)).toBe(wire)
  })

  it.each([
    ["stop", false, "stop"],
    ["stop", true, "tool_calls"],
    ["length", false, "length"],
    ["function_call", false, "tool_calls"],
    ["content_filter", false, "content_filter"],
    ["eos", false, "stop"],
    ["abort", false, "other"],
    [null, false, "stop"],
  ] as const)("upstream finish %s (tools: %s) → %s", (wire, tools, canonical) => {
    expect(ResponseCodec.canonicalFinish(wire, tools)).toBe(canonical)
  })

  it("encodes a tool-call answer with content null and reasoning_content", () => {
    const w = ResponseCodec.encode(
      response({
        parts: [
          { type: "reasoning", text: "t" },
          { type: "tool_call", id: "c", name: "f", arguments: "{}" },
        ],
        finishReason: "tool_calls",
        usage: { inputTokens: 10, outputTokens: 4, reasoningTokens: 1, cachedInputTokens: 6 },
      }),
    )
    expect(w.choices[0]!.message).toEqual({
      role: "assistant",
      content: null,
      refusal: null,
      reasoning_content: "t",
      tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
    })
    expect(w.usage).toEqual({
      prompt_tokens: 10,
      completion_tokens: 4,
      total_tokens: 14,
      prompt_tokens_details: { cached_tokens: 6, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 1, audio_tokens: 0 },
    })
  })

  it("decodes an upstream answer; a refusal becomes text with finish refusal", () => {
    const decoded = ResponseCodec.decode(
      {
        id: "x",
        created: 1,
        model: "m",
        choices: [
          { index: 0, message: { role: "assistant", content: null, refusal: "I can't" }, finish_reason: "stop" },
        ],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      },
      "p",
    )
    expect(Either.getOrThrow(decoded)).toMatchObject({
      parts: [{ type: "text", text: "I can't" }],
      finishReason: "refusal",
    })
    expect(Either.isLeft(ResponseCodec.decode({ id: "x", created: 1, model: "m", choices: [] }, "p"))).toBe(true)
  })

  it("encode ∘ decode keeps an answer", () => {
    const r = response({
      parts: [
        { type: "reasoning", text: "why" },
        { type: "text", text: "because" },
        { type: "tool_call", id: "c1", name: "f", arguments: '{"a":1}' },
      ],
      finishReason: "tool_calls",
      usage: { inputTokens: 9, outputTokens: 5, reasoningTokens: 2, cachedInputTokens: 1 },
    })
    expect(Either.getOrThrow(ResponseCodec.decode(ResponseCodec.encode(r), "p"))).toEqual(r)
  })
})

describe("ErrorCodec", () => {
  it.each([
    [new Errors.InvalidRequest({ message: "bad", param: "n" }), 400, "invalid_request_error", null, "n"],
    [new Errors.Unauthenticated({ message: "who" }), 401, "invalid_request_error", "invalid_api_key", null],
    [new Errors.PermissionDenied({ message: "no" }), 403, "permission_error", "permission_denied", null],
    [
      new Errors.NotFound({ message: 'model "x" is not routed' }),
      404,
      "invalid_request_error",
      "model_not_found",
      null,
    ],
    [new Errors.PayloadTooLarge({ message: "big" }), 413, "invalid_request_error", "request_too_large", null],
    [
      new Errors.RateLimited({ message: "slow", retryAfterSeconds: 3 }),
      429,
      "rate_limit_exceeded",
      "rate_limit_exceeded",
      null,
    ],
    [new Errors.UpstreamError({ message: "up", status: 503 }), 503, "server_error", null, null],
    [new Errors.UpstreamError({ message: "up", status: 422 }), 422, "invalid_request_error", null, null],
    [new Errors.Timeout({ message: "late" }), 504, "server_error", "timeout", null],
    [
      new Errors.GuardrailViolation({ message: "no", policy: "p" }),
      400,
      "invalid_request_error",
      "content_policy_violation",
      null,
    ],
    [new Errors.Unavailable({ message: "drain" }), 503, "server_error", "service_unavailable", null],
    [new Errors.Internal({ message: "oops" }), 500, "server_error", null, null],
  ])("%s → %i", (error, status, type, code, param) => {
    const e = ErrorCodec.encode(error)
    expect(e.status).toBe(status)
    expect(e.body.error).toEqual({ message: error.message, type, code, param })
  })

  it("sends retry-after and retry-after-ms when known", () => {
    expect(ErrorCodec.encode(new Errors.RateLimited({ message: "x", retryAfterSeconds: 1.5 })).headers).toEqual({
      "retry-after": "2",
      "retry-after-ms": "1500",
    })
  })

  it.each([
    [{ "retry-after-ms": "250" }, 0.25],
    [{ "retry-after": "7" }, 7],
    [{ "retry-after": new Date(10_000 + 4000).toUTCString() }, 4],
    [{}, undefined],
  ])("reads retry-after %j", (headers, seconds) => {
    expect(ErrorCodec.retryAfterSeconds(headers, 10_000)).toBe(seconds)
  })

  it("turns an upstream answer into an UpstreamError with status and retry-after, scrubbed", () => {
    const e = ErrorCodec.fromUpstream(
      429,
      { "retry-after": "2" },
      JSON.stringify({ error: { message: "slow down, key sk-live-abcdef123 and my-secret-value", type: "requests" } }),
      "oa",
      ["my-secret-value"],
    )
    expect(e).toMatchObject({ _tag: "UpstreamError", status: 429, retryAfterSeconds: 2, provider: "oa" })
    expect(e.message).not.toMatch(/sk-live|my-secret-value/)
    const auth = ErrorCodec.fromUpstream(
      401,
      {},
      JSON.stringify({ error: { message: "Incorrect API key provided: sk-ab***cd" } }),
      "oa",
    )
    expect(auth.message).not.toContain("sk-ab")
    // vLLM answers without the `error` wrapper.
    expect(
      ErrorCodec.fromUpstream(400, {}, JSON.stringify({ object: "error", message: "too long" }), "v").message,
    ).toContain("too long")
  })
})

describe("EmbeddingsCodec", () => {
  it("base64 is little-endian float32", () => {
    const v = [0.5, -1.25, 3]
    expect(EmbeddingsCodec.fromBase64(EmbeddingsCodec.toBase64(v))).toEqual(v)
    expect(Buffer.from(EmbeddingsCodec.toBase64([1]), "base64")).toEqual(Buffer.from([0, 0, 0x80, 0x3f]))
  })

  it("refuses token-id input by name", () => {
    const r = EmbeddingsCodec.decode({ model: "m", input: [1, 2, 3] })
    expect(Either.isLeft(r) && r.left.param).toBe("input")
  })
})
