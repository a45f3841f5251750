import { Chunk, Effect, Either, Stream } from "effect"
import fc from "fast-check"
import { type ChatRequest, type ChatResponse, Errors, type Message, type Part, type StreamEvent } from "@sluice/schema"
import { describe, expect, it } from "vitest"
import * as ErrorCodec from "../src/ErrorCodec.ts"
import * as Request from "../src/Request.ts"
import * as Response from "../src/Response.ts"
import * as Sse from "../src/Sse.ts"
import * as StreamCodec from "../src/StreamCodec.ts"
import type * as Wire from "../src/Wire.ts"

/** A value as it arrives on the wire: JSON has no -0 (or undefined), so generated values go through it once. */
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

const decode = (body: unknown, stream = false) => Request.decode(body, { model: "m", stream })
const ok = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got ${JSON.stringify(e.left)}`)
  return e.right
}
const err = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error(`expected Left, got ${JSON.stringify(e.right)}`)
  return e.left
}
const user = (text: string): Wire.Content => ({ role: "user", parts: [{ text }] })

describe("Request.decode (Gemini → canonical)", () => {
  it("accepts snake_case spellings without touching user data", () => {
    const chat = ok(
      decode({
        system_instruction: { parts: [{ text: "be brief" }] },
        contents: [
          { role: "user", parts: [{ inline_data: { mime_type: "image/png", data: "AAAA" } }] },
          {
            role: "model",
            parts: [{ function_call: { name: "f", args: { snake_case_arg: 1 } }, thought_signature: "s1" }],
          },
        ],
        generation_config: { max_output_tokens: 5, stop_sequences: ["x"], thinking_config: { include_thoughts: true } },
        tools: [
          {
            function_declarations: [
              { name: "f", parameters: { type: "OBJECT", properties: { snake_case_arg: { type: "INTEGER" } } } },
            ],
          },
        ],
        safety_settings: [{ category: "HARM_CATEGORY_HATE_SPEECH", threshold: "BLOCK_NONE" }],
      }),
    )
    expect(chat.messages[0]).toEqual({ role: "system", parts: [{ type: "text", text: "be brief" }] })
    expect(chat.messages[1]?.parts[0]).toEqual({
      type: "image",
      source: { kind: "base64", mediaType: "image/png", data: "AAAA" },
    })
    expect(chat.messages[2]?.parts[0]).toMatchObject({
      type: "tool_call",
      name: "f",
      arguments: '{"snake_case_arg":1}',
      signature: "s1",
    })
    expect(chat.maxTokens).toBe(5)
    expect(chat.stop).toEqual(["x"])
    expect(chat.reasoning).toEqual({ includeThoughts: true })
    expect(chat.tools?.[0]?.parameters).toEqual({ type: "object", properties: { snake_case_arg: { type: "integer" } } })
    expect(chat.extras?.gemini?.safetySettings).toEqual([
      { category: "HARM_CATEGORY_HATE_SPEECH", threshold: "BLOCK_NONE" },
    ])
  })

  it("gives calls without ids stable ids and matches responses by name, in order", () => {
    const chat = ok(
      decode({
        contents: [
          user("go"),
          {
            role: "model",
            parts: [{ functionCall: { name: "a", args: {} } }, { functionCall: { name: "a", args: { n: 2 } } }],
          },
          {
            role: "user",
            parts: [
              { functionResponse: { name: "a", response: { output: "one" } } },
              { functionResponse: { name: "a", response: { error: "boom" } } },
            ],
          },
        ],
      }),
    )
    const calls = chat.messages[1]!.parts as Array<Extract<Part, { type: "tool_call" }>>
    const results = chat.messages[2]!.parts as Array<Extract<Part, { type: "tool_result" }>>
    expect(calls.map((c) => c.id)).toEqual(["gemini_fc_1_0", "gemini_fc_1_1"])
    expect(results.map((r) => r.id)).toEqual(["gemini_fc_1_0", "gemini_fc_1_1"])
    expect(results[0]).toMatchObject({ content: [{ type: "text", text: "one" }], structured: { output: "one" } })
    expect(results[1]).toMatchObject({ content: [{ type: "text", text: "boom" }], isError: true })
  })

  it("keeps client ids (Gemini CLI sends them)", () => {
    const chat = ok(
      decode({
        contents: [
          { role: "model", parts: [{ functionCall: { id: "x__1", name: "a", args: {} } }] },
          { role: "user", parts: [{ functionResponse: { id: "x__1", name: "a", response: { v: 1 } } }] },
        ],
      }),
    )
    expect(chat.messages[0]?.parts[0]).toMatchObject({ id: "x__1" })
    expect(chat.messages[1]?.parts[0]).toMatchObject({ id: "x__1", content: [{ type: "text", text: '{"v":1}' }] })
  })

  it("joins a turn split over several Contents, and closes a block signed at its end", () => {
    const chat = ok(
      decode({
        contents: [
          user("q"),
          { role: "model", parts: [{ text: "I should ", thought: true }] },
          { role: "model", parts: [{ text: "look.", thought: true }] },
          { role: "model", parts: [{ text: "", thought: true, thoughtSignature: "SIG" }] },
          { role: "model", parts: [{ functionCall: { id: "t1", name: "f", args: {} } }] },
        ],
      }),
    )
    expect(chat.messages).toHaveLength(2)
    expect(chat.messages[1]?.parts).toEqual([
      { type: "reasoning", text: "I should look.", signature: "SIG" },
      { type: "tool_call", id: "t1", name: "f", arguments: "{}" },
    ])
  })

  it.each([
    [
      "thought parts",
      { parts: [{ text: "hmm", thought: true, thoughtSignature: "S" }] },
      { type: "reasoning", text: "hmm", signature: "S" },
    ],
    ["an empty signed part", { parts: [{ thoughtSignature: "S" }] }, { type: "text", text: "", signature: "S" }],
    [
      "fileData",
      { parts: [{ fileData: { mimeType: "application/pdf", fileUri: "gs://b/f.pdf" } }] },
      { type: "image", source: { kind: "url", url: "gs://b/f.pdf", mediaType: "application/pdf" } },
    ],
  ])("maps %s", (_, content, part) => {
    expect(ok(decode({ contents: [{ role: "model", ...content }] })).messages[0]?.parts[0]).toEqual(part)
  })

  it.each([
    [
      "thinkingConfig",
      { generationConfig: { thinkingConfig: { thinkingBudget: 0 } } },
      { reasoning: { effort: "none" } },
    ],
    [
      "thinking level",
      { generationConfig: { thinkingConfig: { thinkingLevel: "HIGH" } } },
      { reasoning: { effort: "high" } },
    ],
    [
      "thinking budget",
      { generationConfig: { thinkingConfig: { thinkingBudget: 2048 } } },
      { reasoning: { budgetTokens: 2048 } },
    ],
    ["json mode", { generationConfig: { responseMimeType: "application/json" } }, { responseFormat: { type: "json" } }],
    [
      "responseSchema",
      { generationConfig: { responseMimeType: "application/json", responseSchema: { type: "STRING" } } },
      { responseFormat: { type: "json_schema", schema: { type: "string" } } },
    ],
    [
      "ANY + names",
      { toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["f"] } } },
      { toolChoice: { mode: "required", allowed: ["f"] } },
    ],
    ["NONE", { toolConfig: { functionCallingConfig: { mode: "NONE" } } }, { toolChoice: { mode: "none" } }],
    [
      "sampling",
      {
        generationConfig: {
          temperature: 0.5,
          topP: 0.9,
          topK: 3,
          seed: 7,
          candidateCount: 1,
          presencePenalty: 0.1,
          frequencyPenalty: 0.2,
        },
      },
      { temperature: 0.5, topP: 0.9, topK: 3, seed: 7, candidates: 1, presencePenalty: 0.1, frequencyPenalty: 0.2 },
    ],
  ])("maps %s", (_, fields, expected) => {
    expect(ok(decode({ contents: [user("x")], ...fields }))).toMatchObject(expected)
  })

  it.each([
    ["no contents", {}, "contents"],
    ["a bad role", { contents: [{ role: "assistant", parts: [{ text: "x" }] }] }, "contents[0].role"],
    ["empty parts", { contents: [{ role: "user", parts: [] }] }, "contents[0].parts"],
    ["a part with no data", { contents: [{ role: "user", parts: [{}] }] }, "contents[0].parts[0]"],
    [
      "two data fields",
      { contents: [{ parts: [{ text: "a", inlineData: { mimeType: "x", data: "y" } }] }] },
      "contents[0].parts[0]",
    ],
    ["a wrongly typed field", { contents: [{ parts: [{ text: 5 }] }] }, "contents[0].parts[0].text"],
    [
      "executableCode",
      { contents: [{ parts: [{ executableCode: { code: "1" } }] }] },
      "contents[0].parts[0].executableCode",
    ],
    [
      "budget and level together",
      { contents: [user("x")], generationConfig: { thinkingConfig: { thinkingBudget: 5, thinkingLevel: "LOW" } } },
      "generationConfig.thinkingConfig.thinkingLevel",
    ],
  ])("rejects %s, naming the field", (_, body, param) => {
    const e = err(decode(body))
    expect(e).toBeInstanceOf(Errors.InvalidRequest)
    expect(e.param).toBe(param)
  })
})

describe("Request.encode (canonical → Gemini)", () => {
  const base: ChatRequest = { model: "gemini-2.5-flash", messages: [], stream: false }

  it("merges system messages, same-role turns and separate tool messages; adds the skip signature", () => {
    const body = ok(
      Request.encode({
        ...base,
        messages: [
          { role: "system", parts: [{ type: "text", text: "a" }] },
          { role: "user", parts: [{ type: "text", text: "q" }] },
          { role: "system", parts: [{ type: "text", text: "b" }] },
          {
            role: "assistant",
            parts: [
              { type: "tool_call", id: "call_1", name: "f", arguments: '{"x":1}' },
              { type: "tool_call", id: "call_2", name: "g", arguments: "" },
            ],
          },
          {
            role: "tool",
            parts: [{ type: "tool_result", id: "call_1", name: "f", content: [{ type: "text", text: "r1" }] }],
          },
          {
            role: "tool",
            parts: [
              { type: "tool_result", id: "call_2", name: "g", content: [{ type: "text", text: "r2" }], isError: true },
            ],
          },
        ],
      }),
    )
    expect(body.systemInstruction).toEqual({ parts: [{ text: "a" }, { text: "b" }] })
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "q" }] },
      {
        role: "model",
        parts: [
          {
            functionCall: { id: "call_1", name: "f", args: { x: 1 } },
            thoughtSignature: "skip_thought_signature_validator",
          },
          { functionCall: { id: "call_2", name: "g", args: {} } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { id: "call_1", name: "f", response: { output: "r1" } } },
          { functionResponse: { id: "call_2", name: "g", response: { error: "r2" } } },
        ],
      },
    ])
  })

  it("maps tools, choice, sampling, reasoning and format; merges Gemini extras", () => {
    const body = ok(
      Request.encode({
        ...base,
        messages: [{ role: "user", parts: [{ type: "text", text: "q" }] }],
        tools: [
          {
            name: "f",
            parameters: { type: "object", properties: { a: { type: "string" } }, additionalProperties: false },
          },
          { name: "noargs", parameters: { type: "object", properties: {} } },
        ],
        toolChoice: { mode: "auto", allowed: ["f"] },
        maxTokens: 10,
        stop: ["END"],
        reasoning: { effort: "low", includeThoughts: true },
        responseFormat: { type: "json_schema", schema: { type: "object", properties: { k: { type: "number" } } } },
        extras: {
          gemini: {
            safetySettings: [],
            generationConfig: { responseModalities: ["TEXT"] },
            tools: [{ googleSearch: {} }],
          },
        },
      }),
    )
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          { name: "f", parameters: { type: "OBJECT", properties: { a: { type: "STRING" } } } },
          { name: "noargs" },
        ],
      },
      { googleSearch: {} },
    ])
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "VALIDATED", allowedFunctionNames: ["f"] } })
    expect(body.generationConfig).toEqual({
      maxOutputTokens: 10,
      stopSequences: ["END"],
      responseMimeType: "application/json",
      responseSchema: { type: "OBJECT", properties: { k: { type: "NUMBER" } } },
      thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 },
      responseModalities: ["TEXT"],
    })
    expect(body.safetySettings).toEqual([])
    expect(
      ok(Request.encode({ ...base, model: "gemini-3-pro-preview", messages: [], reasoning: { effort: "high" } }))
        .generationConfig,
    ).toEqual({ thinkingConfig: { thinkingLevel: "HIGH" } })
  })

  it("refuses a streamed candidateCount > 1, naming it", () => {
    expect(err(Request.encode({ ...base, stream: true, candidates: 2 })).param).toBe("generationConfig.candidateCount")
  })

  it("a Gemini request survives decode → encode unchanged", () => {
    const original = {
      contents: [
        { role: "user", parts: [{ text: "hi" }, { inlineData: { mimeType: "image/png", data: "AAAA" } }] },
        {
          role: "model",
          parts: [
            { text: "thinking", thought: true, thoughtSignature: "T" },
            { functionCall: { name: "f", args: { a: [1, { b: null }] } }, thoughtSignature: "S" },
          ],
        },
        { role: "user", parts: [{ functionResponse: { name: "f", response: { output: { deep: true } } } }] },
      ],
      systemInstruction: { parts: [{ text: "sys" }] },
      tools: [
        {
          functionDeclarations: [
            { name: "f", description: "d", parametersJsonSchema: { type: "object", additionalProperties: false } },
          ],
        },
        { codeExecution: {} },
      ],
      toolConfig: { functionCallingConfig: { mode: "VALIDATED" }, retrievalConfig: { languageCode: "en" } },
      generationConfig: {
        temperature: 0.3,
        candidateCount: 1,
        maxOutputTokens: 99,
        responseMimeType: "application/json",
        responseJsonSchema: { type: "object", $defs: {} },
        thinkingConfig: { includeThoughts: true, thinkingBudget: 512 },
        responseLogprobs: true,
      },
      safetySettings: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "OFF" }],
      cachedContent: "cachedContents/abc",
    }
    expect(ok(Request.encode(ok(decode(original))))).toEqual(original)
  })
})

describe("Response", () => {
  it.each([
    ["STOP", false, "stop"],
    ["STOP", true, "tool_calls"],
    ["MAX_TOKENS", false, "length"],
    ["SAFETY", false, "content_filter"],
    ["RECITATION", false, "content_filter"],
    ["PROHIBITED_CONTENT", false, "content_filter"],
    ["MALFORMED_FUNCTION_CALL", false, "error"],
    ["OTHER", false, "other"],
    ["FINISH_REASON_UNSPECIFIED", false, "other"],
  ] as const)("finishReason %s (calls: %s) → %s", (gemini, calls, canonical) => {
    expect(Response.finishFromGemini(gemini, calls)).toBe(canonical)
  })

  it.each([
    ["stop", "STOP"],
    ["stop_sequence", "STOP"],
    ["tool_calls", "STOP"],
    ["length", "MAX_TOKENS"],
    ["content_filter", "SAFETY"],
    ["refusal", "SAFETY"],
    ["other", "OTHER"],
  ] as const)("canonical %s → %s", (canonical, gemini) => {
    expect(Response.finishToGemini(canonical)).toBe(gemini)
  })

  it("converts usage both ways (thoughts are output; candidates exclude them)", () => {
    const usage = Response.usageFromGemini({
      promptTokenCount: 10,
      candidatesTokenCount: 5,
      thoughtsTokenCount: 20,
      cachedContentTokenCount: 4,
      totalTokenCount: 35,
    })
    expect(usage).toEqual({ inputTokens: 10, outputTokens: 25, reasoningTokens: 20, cachedInputTokens: 4 })
    expect(Response.usageToGemini(usage)).toEqual({
      promptTokenCount: 10,
      candidatesTokenCount: 5,
      thoughtsTokenCount: 20,
      cachedContentTokenCount: 4,
      totalTokenCount: 35,
    })
  })

  it("a Gemini answer survives fromGemini → toGemini exactly", () => {
    const raw = {
      candidates: [
        {
          content: {
            parts: [
              { text: "t", thought: true },
              { text: "Hello" },
              { functionCall: { name: "f", args: { a: 1 } }, thoughtSignature: "SIG" },
            ],
            role: "model",
          },
          finishReason: "STOP",
          index: 0,
          safetyRatings: [{ category: "HARM_CATEGORY_HARASSMENT", probability: "NEGLIGIBLE" }],
        },
      ],
      usageMetadata: {
        promptTokenCount: 3,
        candidatesTokenCount: 4,
        totalTokenCount: 9,
        thoughtsTokenCount: 2,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: 3 }],
      },
      modelVersion: "gemini-2.5-flash",
      responseId: "abc123",
    }
    const canonical = ok(Response.fromGemini(raw as Wire.GenerateContentResponse, raw, "x"))
    expect(canonical.finishReason).toBe("tool_calls")
    expect(canonical.parts[2]).toMatchObject({ type: "tool_call", name: "f", signature: "SIG" })
    expect(Response.toGemini(canonical)).toEqual(raw)
  })
})

describe("code execution (the pass-through codeExecution tool)", () => {
  it("shows executableCode and its result as Markdown text in answers and streams", async () => {
    const parts = [
      { executableCode: { language: "PYTHON", code: "print(1+1)" } },
      { codeExecutionResult: { outcome: "OUTCOME_OK", output: "2" } },
      { text: "The answer is 2." },
    ]
    const raw = { candidates: [{ content: { role: "model", parts }, finishReason: "STOP" }] }
    const r = ok(Response.fromGemini(raw as Wire.GenerateContentResponse, raw, "m"))
    expect(r.parts).toEqual([
      { type: "text", text: "\n```python\nprint(1+1)\n```\n" },
      { type: "text", text: "\n```output\n2\n```\n" },
      { type: "text", text: "The answer is 2." },
    ])
    const events = await run(StreamCodec.fromChunks(Stream.make(raw as Wire.GenerateContentResponse), "m"))
    expect(
      events
        .filter((e) => e._tag === "text_delta")
        .map((e) => (e as { text: string }).text)
        .join(""),
    ).toBe("\n```python\nprint(1+1)\n```\n\n```output\n2\n```\nThe answer is 2.")
  })
})

describe("ErrorCodec", () => {
  it.each([
    [new Errors.InvalidRequest({ message: "m" }), 400, "INVALID_ARGUMENT"],
    [new Errors.Unauthenticated({ message: "m" }), 401, "UNAUTHENTICATED"],
    [new Errors.PermissionDenied({ message: "m" }), 403, "PERMISSION_DENIED"],
    [new Errors.NotFound({ message: "m" }), 404, "NOT_FOUND"],
    [new Errors.PayloadTooLarge({ message: "m" }), 400, "INVALID_ARGUMENT"],
    [new Errors.RateLimited({ message: "m", retryAfterSeconds: 3 }), 429, "RESOURCE_EXHAUSTED"],
    [new Errors.Internal({ message: "m" }), 500, "INTERNAL"],
    [new Errors.Unavailable({ message: "m" }), 503, "UNAVAILABLE"],
    [new Errors.Timeout({ message: "m" }), 504, "DEADLINE_EXCEEDED"],
    [new Errors.UpstreamError({ message: "m", status: 529 }), 503, "UNAVAILABLE"],
    [new Errors.UpstreamError({ message: "m", status: 502 }), 502, "UNAVAILABLE"],
    [new Errors.GuardrailViolation({ message: "m", policy: "p" }), 400, "INVALID_ARGUMENT"],
  ])("%s → %i %s", (e, code, status) => {
    const r = ErrorCodec.toGemini(e)
    expect(r.code).toBe(code)
    expect(r.body.error).toMatchObject({ code, status, message: "m" })
  })

  it("adds RetryInfo and retry-after for rate limits", () => {
    const r = ErrorCodec.toGemini(new Errors.RateLimited({ message: "slow down", retryAfterSeconds: 12 }))
    expect(r.headers["retry-after"]).toBe("12")
    expect(r.body.error.details).toEqual([{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "12s" }])
  })

  it("reads an upstream error: status, message, RetryInfo; an invalid key becomes 401", () => {
    const e = ErrorCodec.fromGemini(
      429,
      [
        {
          error: {
            code: 429,
            message: "quota",
            status: "RESOURCE_EXHAUSTED",
            details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "32s" }],
          },
        },
      ],
      {},
      "g",
    )
    expect(e).toMatchObject({ status: 429, message: "quota", retryAfterSeconds: 32, provider: "g" })
    const key = ErrorCodec.fromGemini(
      400,
      {
        error: {
          code: 400,
          message: "API key not valid",
          status: "INVALID_ARGUMENT",
          details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID" }],
        },
      },
      {},
      "g",
    )
    expect(key.status).toBe(401)
    expect(ErrorCodec.fromGemini(503, "<html>overloaded</html>", { "retry-after": "5" }, "g")).toMatchObject({
      status: 503,
      retryAfterSeconds: 5,
    })
  })
})

const run = <A>(s: Stream.Stream<A, Errors.UpstreamError | any>) =>
  Effect.runPromise(Stream.runCollect(s)).then(Chunk.toArray)

describe("StreamCodec", () => {
  it("gathers another provider's argument deltas into one whole functionCall chunk, finish riding on it", async () => {
    const events: Array<StreamEvent> = [
      { _tag: "start", id: "r1", model: "gpt" },
      { _tag: "text_delta", text: "Let me check. " },
      { _tag: "tool_call_start", index: 0, id: "call_a", name: "f" },
      { _tag: "tool_call_start", index: 1, id: "call_b", name: "g" },
      { _tag: "tool_call_delta", index: 0, arguments: '{"ci' },
      { _tag: "tool_call_delta", index: 1, arguments: "{}" },
      { _tag: "tool_call_delta", index: 0, arguments: 'ty":"Oslo"}' },
      { _tag: "tool_call_end", index: 1 },
      { _tag: "tool_call_end", index: 0 },
      { _tag: "finish", finishReason: "tool_calls", usage: { inputTokens: 5, outputTokens: 7 } },
    ]
    const chunks = await run(StreamCodec.toChunks(Stream.fromIterable(events)))
    expect(chunks).toEqual([
      {
        candidates: [{ content: { parts: [{ text: "Let me check. " }], role: "model" }, index: 0 }],
        modelVersion: "gpt",
        responseId: "r1",
      },
      {
        candidates: [
          { content: { parts: [{ functionCall: { id: "call_b", name: "g", args: {} } }], role: "model" }, index: 0 },
        ],
        modelVersion: "gpt",
        responseId: "r1",
      },
      {
        candidates: [
          {
            content: { parts: [{ functionCall: { id: "call_a", name: "f", args: { city: "Oslo" } } }], role: "model" },
            finishReason: "STOP",
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 7, totalTokenCount: 12 },
        modelVersion: "gpt",
        responseId: "r1",
      },
    ])
  })

  it("fails the stream when a call's arguments are not JSON", async () => {
    const events: Array<StreamEvent> = [
      { _tag: "start", id: "r", model: "m" },
      { _tag: "tool_call_start", index: 0, id: "c", name: "f" },
      { _tag: "tool_call_delta", index: 0, arguments: "{oops" },
      { _tag: "tool_call_end", index: 0 },
    ]
    await expect(run(StreamCodec.toChunks(Stream.fromIterable(events)))).rejects.toThrow(/not valid JSON/)
  })

  it("decodes Gemini chunks: thoughts, text, whole calls with signatures, last usage", async () => {
    const chunks: Array<Wire.GenerateContentResponse> = [
      {
        candidates: [{ content: { parts: [{ text: "hm", thought: true }] } }],
        responseId: "R",
        modelVersion: "gemini-x",
        usageMetadata: { promptTokenCount: 4 },
      },
      { candidates: [{ content: { parts: [{ text: "Hi" }] } }] },
      {
        candidates: [
          {
            content: {
              parts: [
                { functionCall: { name: "f", args: { a: 1 } }, thoughtSignature: "S" },
                { thoughtSignature: "T" },
              ],
            },
            finishReason: "STOP",
          },
        ],
        usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 3, thoughtsTokenCount: 2, totalTokenCount: 9 },
      },
    ]
    const events = await run(StreamCodec.fromChunks(Stream.fromIterable(chunks), "m"))
    expect(events[0]).toEqual({ _tag: "start", id: "R", model: "gemini-x" })
    expect(events.slice(1, 3)).toEqual([
      { _tag: "reasoning_delta", text: "hm" },
      { _tag: "text_delta", text: "Hi" },
    ])
    expect(events[3]).toMatchObject({ _tag: "tool_call_start", index: 0, name: "f", signature: "S" })
    expect(events[4]).toEqual({ _tag: "tool_call_delta", index: 0, arguments: '{"a":1}' })
    expect(events[6]).toEqual({ _tag: "text_delta", text: "", signature: "T" })
    expect(events[7]).toEqual({
      _tag: "finish",
      finishReason: "tool_calls",
      usage: { inputTokens: 4, outputTokens: 5, reasoningTokens: 2 },
    })
  })

  it("a Gemini stream that ends without finishReason is an error, not a silent end", async () => {
    const chunks: Array<Wire.GenerateContentResponse> = [{ candidates: [{ content: { parts: [{ text: "Hi" }] } }] }]
    await expect(run(StreamCodec.fromChunks(Stream.fromIterable(chunks), "m"))).rejects.toThrow(
      /without a finishReason/,
    )
  })
})

describe("Sse.frames", () => {
  it("splits events on any blank line, across reads, and surfaces a bare error object", async () => {
    const enc = new TextEncoder()
    const reads = [
      'data: {"a":1}\r\n\r\nda',
      'ta: {"b":2}\n\n',
      'data: {"c":',
      "3}\r\n\r\n",
      '{"error":{"code":500,"message":"x"}}',
    ]
    const frames = await run(Sse.frames(Stream.fromIterable(reads.map((r) => enc.encode(r)))))
    expect(frames).toEqual([
      { _tag: "data", json: { a: 1 } },
      { _tag: "data", json: { b: 2 } },
      { _tag: "data", json: { c: 3 } },
      { _tag: "error", json: { error: { code: 500, message: "x" } } },
    ])
  })
})

// ---- property: canonical → Gemini → canonical is lossless for what Gemini can express ---------

const text = fc.string({ minLength: 1, maxLength: 20 })
const sig = fc.option(fc.base64String({ minLength: 4, maxLength: 12 }), { nil: undefined })
const withSig = <T extends object>(p: T, s: string | undefined) => (s === undefined ? p : { ...p, signature: s })
const jsonObject = fc
  .dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })
  .map(wire)

const userParts = fc.array(
  fc.oneof(
    fc.tuple(text, sig).map(([t, s]) => withSig({ type: "text" as const, text: t }, s) as Part),
    fc
      .base64String({ minLength: 4, maxLength: 16 })
      .map((d): Part => ({ type: "image", source: { kind: "base64", mediaType: "image/png", data: d } })),
  ),
  { minLength: 1, maxLength: 3 },
)

/** A model turn (text/thoughts, then calls) and the user turn answering its calls. */
const step = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.tuple(text, sig).map(([t, s]) => withSig({ type: "text" as const, text: t }, s) as Part),
        fc.tuple(text, sig).map(([t, s]) => withSig({ type: "reasoning" as const, text: t }, s) as Part),
      ),
      { maxLength: 2 },
    ),
    fc.array(fc.tuple(fc.stringMatching(/^[a-z_]{1,8}$/), jsonObject, jsonObject, sig), { maxLength: 3 }),
    fc.integer({ min: 0, max: 1_000_000 }),
  )
  .filter(([lead, calls]) => lead.length + calls.length > 0)
  .map(([lead, calls, salt]): Array<Message> => {
    const callParts = calls.map(
      ([name, args, _, s], i) =>
        withSig(
          { type: "tool_call" as const, id: `call_${salt}_${i}`, name, arguments: JSON.stringify(args) },
          s,
        ) as Part,
    )
    const model: Message = { role: "assistant", parts: [...lead, ...callParts] }
    if (calls.length === 0) return [model]
    const results = calls.map(
      ([name, , response], i): Part => ({
        type: "tool_result",
        id: `call_${salt}_${i}`,
        name,
        content: [{ type: "text", text: JSON.stringify(response) }],
        structured: response,
      }),
    )
    return [model, { role: "user", parts: results }]
  })

const conversation = fc
  .tuple(userParts, fc.array(fc.tuple(step, userParts), { maxLength: 3 }))
  .map(([first, rest]): Array<Message> => {
    const out: Array<Message> = [{ role: "user", parts: first }]
    for (const [msgs, next] of rest) {
      out.push(...msgs)
      const last = out[out.length - 1]!
      // Gemini has one user turn after a call step: the user's next words join the results.
      if (last.role === "user") out[out.length - 1] = { ...last, parts: [...last.parts, ...next] }
      else out.push({ role: "user", parts: next })
    }
    return out
  })

/** The first call of a step gets Google's skip value when it had no signature. */
const expectedAfterTrip = (messages: ReadonlyArray<Message>): Array<Message> =>
  messages.map((m) => {
    if (m.role !== "assistant") return m
    const firstCall = m.parts.findIndex((p) => p.type === "tool_call")
    if (firstCall < 0 || m.parts.some((p) => "signature" in p && p.signature !== undefined)) return m
    return {
      ...m,
      parts: m.parts.map((p, i) => (i === firstCall ? { ...p, signature: Request.skipSignature } : p)),
    }
  })

describe("property: canonical → Gemini → canonical", () => {
  it("keeps messages, signatures, tool ids, arguments, results and settings", () => {
    fc.assert(
      fc.property(
        conversation,
        fc.record(
          {
            temperature: fc.double({ min: 0, max: 2, noNaN: true }),
            topP: fc.double({ min: 0, max: 1, noNaN: true }),
            topK: fc.integer({ min: 1, max: 100 }),
            maxTokens: fc.integer({ min: 1, max: 10000 }),
            stop: fc.array(text, { minLength: 1, maxLength: 3 }),
            seed: fc.integer(),
          },
          { requiredKeys: [] },
        ),
        fc.option(fc.array(text, { minLength: 1, maxLength: 2 }), { nil: undefined }),
        (messages, settings, system) => {
          const chat: ChatRequest = {
            model: "gemini-2.5-flash",
            stream: false,
            messages: [
              ...(system === undefined
                ? []
                : [{ role: "system" as const, parts: system.map((t) => ({ type: "text" as const, text: t })) }]),
              ...messages,
            ],
            ...settings,
          }
          const wire = ok(Request.encode(chat))
          const back = ok(Request.decode(JSON.parse(JSON.stringify(wire)), { model: chat.model, stream: false }))
          const expected = [...(system === undefined ? [] : [chat.messages[0]!]), ...expectedAfterTrip(messages)]
          expect(back.messages).toEqual(expected)
          expect(back).toMatchObject(settings)
        },
      ),
      { numRuns: 300 },
    )
  })

  it("keeps an answer's parts, finish reason and usage through Gemini's response shape", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.tuple(text, sig).map(([t, s]) => withSig({ type: "text" as const, text: t }, s) as Part),
            fc.tuple(text, sig).map(([t, s]) => withSig({ type: "reasoning" as const, text: t }, s) as Part),
            fc
              .tuple(fc.stringMatching(/^[a-z]{1,6}$/), jsonObject, sig)
              .map(
                ([name, args, s]) =>
                  withSig(
                    { type: "tool_call" as const, id: `call_${name}`, name, arguments: JSON.stringify(args) },
                    s,
                  ) as Part,
              ),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.constantFrom("stop" as const, "length" as const, "content_filter" as const),
        fc.nat(1000),
        fc.nat(1000),
        fc.nat(100),
        (parts, reason, input, visible, thoughts) => {
          const hasCalls = parts.some((p) => p.type === "tool_call")
          const response: ChatResponse = {
            id: "resp-1",
            model: "m",
            parts,
            finishReason: hasCalls && reason === "stop" ? "tool_calls" : reason,
            usage: {
              inputTokens: input,
              outputTokens: visible + thoughts,
              ...(thoughts > 0 ? { reasoningTokens: thoughts } : {}),
            },
            created: 1,
          }
          const wire = JSON.parse(JSON.stringify(Response.toGemini(response)))
          const back = ok(Response.fromGemini(wire, wire, "m"))
          expect(back.parts).toEqual(parts)
          expect(back.finishReason).toBe(response.finishReason)
          expect(back.usage).toEqual(response.usage)
          expect(back.id).toBe("resp-1")
        },
      ),
      { numRuns: 300 },
    )
  })
})
