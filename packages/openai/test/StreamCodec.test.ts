import { Chunk, Effect, Either, Stream } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Errors, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"
import { Collect, Sse } from "@sluice/core"
import * as StreamCodec from "../src/StreamCodec.ts"
import type * as Wire from "../src/Wire.ts"

const run = <A>(s: Stream.Stream<A, GatewayError>) =>
  Effect.runPromise(Effect.either(Effect.map(Stream.runCollect(s), Chunk.toArray)))

const encodeAll = async (events: Stream.Stream<StreamEvent, GatewayError>, includeUsage = true) => {
  const frames = await run(StreamCodec.encode(events, { includeUsage, created: 1 }))
  if (Either.isLeft(frames)) throw new Error("encode never fails")
  return frames.right
}

/** Frames → the data payloads a client sees, through the SSE parser, cut into arbitrary pieces. */
const payloads = async (frames: ReadonlyArray<string>, cuts: ReadonlyArray<number> = []) => {
  const bytes = new TextEncoder().encode(frames.join(""))
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces: Array<Uint8Array> = []
  let at = 0
  for (const p of [...points, bytes.length]) {
    pieces.push(bytes.slice(at, p))
    at = p
  }
  const events = await run(Sse.events(Stream.fromIterable(pieces)))
  if (Either.isLeft(events)) throw new Error("parse never fails")
  return events.right.map((e) => e.data)
}

const chunksOf = (data: ReadonlyArray<string>) =>
  data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as Wire.ChatCompletionChunk)

const usage: Usage = { inputTokens: 10, outputTokens: 7, reasoningTokens: 2, cachedInputTokens: 4 }

describe("StreamCodec.encode (canonical → client frames)", () => {
  it("frames a text answer: role chunk, deltas, finish chunk, usage chunk, [DONE]", async () => {
    const frames = await encodeAll(
      Stream.make<Array<StreamEvent>>(
        { _tag: "start", id: "chatcmpl-1", model: "m" },
        { _tag: "text_delta", text: "Hel" },
        { _tag: "text_delta", text: "lo" },
        { _tag: "finish", finishReason: "stop", usage },
      ),
    )
    expect(frames.every((f) => f.startsWith("data: ") && f.endsWith("\n\n"))).toBe(true)
    expect(frames.at(-1)).toBe("data: [DONE]\n\n")
    const chunks = chunksOf(await payloads(frames))
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: "assistant", content: "" },
      { content: "Hel" },
      { content: "lo" },
      {},
      null,
    ])
    expect(chunks[3]!.choices[0]!.finish_reason).toBe("stop")
    expect(chunks.slice(0, 4).every((c) => c.usage === null && c.id === "chatcmpl-1")).toBe(true)
    expect(chunks[4]!.usage).toEqual({
      prompt_tokens: 10,
      completion_tokens: 7,
      total_tokens: 17,
      prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 2, audio_tokens: 0 },
    })
  })

  it("without include_usage: no usage field and no choices:[] chunk", async () => {
    const frames = await encodeAll(
      Stream.make<Array<StreamEvent>>(
        { _tag: "start", id: "x", model: "m" },
        { _tag: "finish", finishReason: "length", usage },
      ),
      false,
    )
    const chunks = chunksOf(await payloads(frames))
    expect(chunks.every((c) => !("usage" in c) && c.choices.length === 1)).toBe(true)
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length")
  })

  it("numbers tool calls 0, 1, … by first appearance; first fragment has id, type and name", async () => {
    const frames = await encodeAll(
      Stream.make<Array<StreamEvent>>(
        { _tag: "start", id: "x", model: "m" },
        { _tag: "tool_call_start", index: 7, id: "call_a", name: "a" },
        { _tag: "tool_call_start", index: 3, id: "call_b", name: "b" },
        { _tag: "tool_call_delta", index: 3, arguments: "{}" },
        { _tag: "tool_call_delta", index: 7, arguments: '{"x":1}' },
        { _tag: "tool_call_end", index: 7 },
        { _tag: "tool_call_end", index: 3 },
        { _tag: "finish", finishReason: "tool_calls", usage },
      ),
    )
    const calls = chunksOf(await payloads(frames)).flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
    expect(calls).toEqual([
      { index: 0, id: "call_a", type: "function", function: { name: "a", arguments: "" } },
      { index: 1, id: "call_b", type: "function", function: { name: "b", arguments: "" } },
      { index: 1, function: { arguments: "{}" } },
      { index: 0, function: { arguments: '{"x":1}' } },
    ])
  })

  it("a mid-stream error becomes a data: {error} frame (no [DONE])", async () => {
    const frames = await encodeAll(
      Stream.concat(
        Stream.make<Array<StreamEvent>>({ _tag: "start", id: "x", model: "m" }, { _tag: "text_delta", text: "part" }),
        Stream.fail(new Errors.UpstreamError({ message: "upstream broke", status: 503 })),
      ),
    )
    const last = JSON.parse(frames.at(-1)!.slice(6)) as { error: Wire.ErrorObject }
    expect(last.error).toEqual({ message: "upstream broke", type: "server_error", param: null, code: null })
    expect(frames).not.toContain("data: [DONE]\n\n")
  })

  it("a mid-stream guardrail stop ends with finish_reason content_filter, then [DONE]", async () => {
    const frames = await encodeAll(
      Stream.concat(
        Stream.make<Array<StreamEvent>>(
          { _tag: "start", id: "x", model: "m" },
          { _tag: "text_delta", text: "ok so far" },
        ),
        Stream.fail(new Errors.GuardrailViolation({ message: "blocked", policy: "pii" })),
      ),
    )
    expect(frames.at(-1)).toBe("data: [DONE]\n\n")
    const chunks = chunksOf(await payloads(frames))
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("content_filter")
    expect(frames.join("")).not.toContain("blocked")
  })

  it("a stream that ends without finish is reported, not silently cut", async () => {
    const frames = await encodeAll(Stream.make<Array<StreamEvent>>({ _tag: "start", id: "x", model: "m" }))
    expect(frames.at(-1)).toContain('"error"')
  })
})

const decodeAll = (chunks: ReadonlyArray<unknown>) =>
  run(
    StreamCodec.decode(
      Stream.mapEffect(Stream.fromIterable(chunks), (c) => StreamCodec.parseData(JSON.stringify(c), "p", [])),
      "p",
    ),
  )

const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) => ({
  id: "c1",
  object: "chat.completion.chunk",
  created: 1,
  model: "m",
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...extra,
})

describe("StreamCodec.decode (upstream chunks → canonical)", () => {
  it("treats a new id at a reused index as a new call (servers that number every call 0)", async () => {
    const events = await decodeAll([
      chunk({ role: "assistant" }),
      chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "a", arguments: "{}" } }] }),
      chunk({ tool_calls: [{ index: 0, id: "call_2", type: "function", function: { name: "b", arguments: "{}" } }] }),
      chunk({}, "stop"),
    ])
    if (Either.isLeft(events)) throw events.left
    const r = await Effect.runPromise(Collect.collect(Stream.fromIterable(events.right)))
    expect(r.parts).toEqual([
      { type: "tool_call", id: "call_1", name: "a", arguments: "{}" },
      { type: "tool_call", id: "call_2", name: "b", arguments: "{}" },
    ])
    // finish_reason "stop" with calls is a tool-call ending.
    expect(r.finishReason).toBe("tool_calls")
  })

  it("holds arguments that arrive before the name, and makes an id when there is none", async () => {
    const events = await decodeAll([
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { name: "f", arguments: ":1}" } }] }),
      chunk({}, "tool_calls"),
    ])
    if (Either.isLeft(events)) throw events.left
    const r = await Effect.runPromise(Collect.collect(Stream.fromIterable(events.right)))
    expect(r.parts).toMatchObject([{ type: "tool_call", name: "f", arguments: '{"a":1}' }])
    expect((r.parts[0] as { id: string }).id).toMatch(/^call_/)
  })

  it("reads reasoning_content (DeepSeek) and reasoning (vLLM/Ollama) as reasoning", async () => {
    const events = await decodeAll([
      chunk({ role: "assistant", content: null, reasoning_content: "" }),
      chunk({ reasoning_content: "think " }),
      chunk({ reasoning: "more" }),
      chunk({ content: "answer" }),
      chunk({}, "stop", {
        usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8, prompt_cache_hit_tokens: 2 },
      }),
    ])
    if (Either.isLeft(events)) throw events.left
    const r = await Effect.runPromise(Collect.collect(Stream.fromIterable(events.right)))
    expect(r.parts).toEqual([
      { type: "reasoning", text: "think more" },
      { type: "text", text: "answer" },
    ])
    expect(r.usage).toEqual({ inputTokens: 5, outputTokens: 3, cachedInputTokens: 2 })
  })

  it("fails when the upstream ends without a finish_reason", async () => {
    const r = await decodeAll([chunk({ content: "cut" })])
    expect(Either.isLeft(r) && r.left._tag === "UpstreamError" && r.left.status === 502).toBe(true)
  })

  it("turns a data: {error} frame into an UpstreamError, scrubbing keys", async () => {
    const r = await Effect.runPromise(
      Effect.either(
        StreamCodec.parseData(JSON.stringify({ error: { message: "bad key sk-abcdef123456", code: 503 } }), "p", []),
      ),
    )
    if (Either.isRight(r)) throw new Error("expected a failure")
    expect(r.left).toMatchObject({ _tag: "UpstreamError", status: 503 })
    expect(r.left.message).not.toContain("sk-abcdef123456")
  })

  it("names the field of an unreadable chunk", async () => {
    const r = await Effect.runPromise(
      Effect.either(
        StreamCodec.parseData(JSON.stringify({ id: "x", created: 1, model: "m", choices: [{ index: "0" }] }), "p", []),
      ),
    )
    expect(Either.isLeft(r) && r.left.message.includes("choices[0]")).toBe(true)
  })
})

// ---- property: encode then decode gives the same answer ------------------------------------

const text = fc.string({ minLength: 1, maxLength: 12 })
const piecesOf = (s: string, cuts: ReadonlyArray<number>): Array<string> => {
  const points = [...new Set(cuts.map((c) => c % s.length))].filter((p) => p > 0).sort((a, b) => a - b)
  const out: Array<string> = []
  let at = 0
  for (const p of [...points, s.length]) {
    out.push(s.slice(at, p))
    at = p
  }
  return out
}

type Item =
  | { kind: "text"; text: string; cuts: Array<number> }
  | { kind: "reasoning"; text: string; cuts: Array<number> }
  | { kind: "call"; id: string; name: string; args: string; cuts: Array<number> }

const item: fc.Arbitrary<Item> = fc.oneof(
  fc.record({ kind: fc.constant("text" as const), text, cuts: fc.array(fc.nat(), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant("reasoning" as const), text, cuts: fc.array(fc.nat(), { maxLength: 4 }) }),
  fc.record({
    kind: fc.constant("call" as const),
    id: fc.stringMatching(/^call_[A-Za-z0-9]{1,8}$/),
    name: fc.stringMatching(/^[a-z_]{1,10}$/),
    args: fc.json(),
    cuts: fc.array(fc.nat(), { maxLength: 4 }),
  }),
)

const eventsFor = (items: ReadonlyArray<Item>, finish: "stop" | "length" | "content_filter", u: Usage) => {
  const events: Array<StreamEvent> = [{ _tag: "start", id: "chatcmpl-p", model: "m" }]
  let index = 0
  const hasCalls = items.some((i) => i.kind === "call")
  for (const i of items) {
    if (i.kind === "text") for (const p of piecesOf(i.text, i.cuts)) events.push({ _tag: "text_delta", text: p })
    else if (i.kind === "reasoning")
      for (const p of piecesOf(i.text, i.cuts)) events.push({ _tag: "reasoning_delta", text: p })
    else {
      events.push({ _tag: "tool_call_start", index, id: `${i.id}_${index}`, name: i.name })
      for (const p of piecesOf(i.args, i.cuts)) events.push({ _tag: "tool_call_delta", index, arguments: p })
      events.push({ _tag: "tool_call_end", index })
      index++
    }
  }
  events.push({ _tag: "finish", finishReason: hasCalls ? "tool_calls" : finish, usage: u })
  return events
}

const usageArb: fc.Arbitrary<Usage> = fc
  .record({
    inputTokens: fc.nat(10_000),
    outputTokens: fc.nat(10_000),
    reasoningTokens: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
    cachedInputTokens: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
  })
  .map((u) => Object.fromEntries(Object.entries(u).filter(([, v]) => v !== undefined)) as unknown as Usage)

describe("property: canonical → OpenAI stream → canonical", () => {
  it("keeps text, reasoning, every tool call (id, name, arguments), finish and usage", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { maxLength: 6 }),
        fc.constantFrom("stop" as const, "length" as const, "content_filter" as const),
        usageArb,
        fc.array(fc.nat(), { maxLength: 8 }),
        async (items, finish, u, cuts) => {
          const events = eventsFor(items, finish, u)
          const frames = await encodeAll(Stream.fromIterable(events))
          const data = await payloads(frames, cuts)
          expect(data.at(-1)).toBe("[DONE]")
          const decoded = await decodeAll(chunksOf(data))
          if (Either.isLeft(decoded)) throw decoded.left
          const expected = await Effect.runPromise(Collect.collect(Stream.fromIterable(events)))
          const got = await Effect.runPromise(Collect.collect(Stream.fromIterable(decoded.right)))
          expect({ ...got, created: 0 }).toEqual({ ...expected, created: 0 })
        },
      ),
      { numRuns: 200 },
    )
  })
})
