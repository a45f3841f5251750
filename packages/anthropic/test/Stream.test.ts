import { Effect, Either, Stream } from "effect"
import { Sse } from "@sluice/core"
import { Errors, type Part, type StreamEvent, type Usage } from "@sluice/schema"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Decoder } from "../src/StreamDecoder.ts"
import { Encoder } from "../src/StreamEncoder.ts"

/** A value as it arrives on the wire: JSON has no -0 (or undefined), so generated values go through it once. */
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/** Frames → [{event, data}] with the JSON parsed, checking both lines are there. */
/** Text cut into byte chunks at `cuts` → the SSE messages core's reader finds in it. */
const sse = (text: string, cuts: ReadonlyArray<number> = []): Array<Sse.Event> => {
  const bytes = new TextEncoder().encode(text)
  const ends = [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]
  const chunks = ends.map((end, i) => bytes.slice(i === 0 ? 0 : ends[i - 1], end))
  return Array.from(Effect.runSync(Stream.runCollect(Sse.events(Stream.fromIterable(chunks)))))
}

const parseFrames = (frames: ReadonlyArray<string>) => {
  const out = sse(frames.join(""))
  return out.map((m) => ({ event: m.event, data: JSON.parse(m.data) as Record<string, unknown> }))
}

const encodeAll = (events: ReadonlyArray<StreamEvent>) => {
  const enc = new Encoder()
  return events.flatMap((e) => enc.push(e))
}

const usage: Usage = { inputTokens: 12, outputTokens: 5 }

describe("StreamEncoder", () => {
  it("emits Anthropic's sequence for text, with input tokens from an early usage event", () => {
    const frames = parseFrames(
      encodeAll([
        { _tag: "start", id: "abc", model: "m" },
        { _tag: "usage", usage: { inputTokens: 30, outputTokens: 1, cachedInputTokens: 20 } },
        { _tag: "text_delta", text: "Hel" },
        { _tag: "text_delta", text: "lo" },
        { _tag: "finish", finishReason: "stop", usage: { inputTokens: 30, outputTokens: 4, cachedInputTokens: 20 } },
      ]),
    )
    for (const f of frames) expect(f.event).toBe(f.data.type)
    expect(frames.map((f) => f.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ])
    expect(frames[0]!.data.message).toMatchObject({
      id: "msg_abc",
      model: "m",
      content: [],
      stop_reason: null,
      usage: { input_tokens: 10, cache_read_input_tokens: 20 },
    })
    expect(frames[6]!.data).toEqual({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { input_tokens: 10, output_tokens: 4, cache_read_input_tokens: 20, cache_creation_input_tokens: 0 },
    })
  })

  it("closes thinking with its signature, then opens text at the next index", () => {
    const frames = parseFrames(
      encodeAll([
        { _tag: "start", id: "msg_1", model: "m" },
        { _tag: "reasoning_delta", text: "think" },
        { _tag: "reasoning_delta", text: "", signature: "SIG" },
        { _tag: "reasoning_delta", text: "", redacted: "RED" },
        { _tag: "text_delta", text: "answer" },
        { _tag: "finish", finishReason: "stop", usage },
      ]),
    )
    const blocks = frames.filter((f) => f.event?.startsWith("content_block")).map((f) => f.data)
    expect(blocks).toEqual([
      { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "think" } },
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "SIG" } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "redacted_thinking", data: "RED" } },
      { type: "content_block_stop", index: 1 },
      { type: "content_block_start", index: 2, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 2, delta: { type: "text_delta", text: "answer" } },
      { type: "content_block_stop", index: 2 },
    ])
  })

  it("serialises interleaved tool calls into consecutive blocks", () => {
    const frames = parseFrames(
      encodeAll([
        { _tag: "start", id: "x", model: "m" },
        { _tag: "tool_call_start", index: 0, id: "a", name: "f" },
        { _tag: "tool_call_start", index: 1, id: "b", name: "g" },
        { _tag: "tool_call_delta", index: 1, arguments: '{"y":' },
        { _tag: "tool_call_delta", index: 0, arguments: '{"x":1}' },
        { _tag: "tool_call_delta", index: 1, arguments: "2}" },
        { _tag: "tool_call_end", index: 1 },
        { _tag: "tool_call_end", index: 0 },
        { _tag: "finish", finishReason: "tool_calls", usage },
      ]),
    )
    const blocks = frames.filter((f) => f.event?.startsWith("content_block")).map((f) => f.data)
    expect(blocks).toEqual([
      { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "a", name: "f", input: {} } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"x":1}' } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "b", name: "g", input: {} } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"y":2}' } },
      { type: "content_block_stop", index: 1 },
    ])
    expect(frames.at(-2)!.data).toMatchObject({ delta: { stop_reason: "tool_use" } })
  })

  it("ends a failed stream with an error event; a guardrail violation never leaks the blocked text", () => {
    const enc = new Encoder()
    const head = [{ _tag: "start", id: "x", model: "m" } as const, { _tag: "text_delta", text: "ok so far" } as const]
    const frames = [
      ...head.flatMap((e) => enc.push(e)),
      ...enc.fail(new Errors.GuardrailViolation({ message: "output blocked by policy pii", policy: "pii" })),
      ...enc.push({ _tag: "text_delta", text: "4111 1111 1111 1111" }),
    ]
    const parsed = parseFrames(frames)
    expect(parsed.at(-1)).toEqual({
      event: "error",
      data: { type: "error", error: { type: "invalid_request_error", message: "output blocked by policy pii" } },
    })
    expect(frames.join("")).not.toContain("4111")
    const upstream = new Encoder()
    upstream.push({ _tag: "start", id: "x", model: "m" })
    expect(parseFrames(upstream.fail(new Errors.UpstreamError({ message: "o", status: 529 })))[0]!.data).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "o" },
    })
  })

  it("pings only after message_start", () => {
    const enc = new Encoder()
    expect(enc.tick()).toEqual([])
    enc.push({ _tag: "start", id: "x", model: "m" })
    expect(parseFrames(enc.tick()).map((f) => f.event)).toEqual(["message_start", "ping", "ping"])
  })
})

/** A stream as Anthropic documents it, written out by hand. */
const documented = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2,"cache_read_input_tokens":8}}}',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}',
  'event: ping\ndata: {"type": "ping"}',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me"}}',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}',
  'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Okay"}}',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}',
  'event: content_block_start\ndata: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\": \\"San Fra"}}',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\\"}"}}',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":2}',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}',
  'event: message_stop\ndata: {"type":"message_stop"}',
].join("\r\n\r\n")

const decodeText = (text: string, cuts: ReadonlyArray<number> = []) => {
  const decoder = new Decoder("anthropic")
  const events: Array<StreamEvent> = []
  for (const m of sse(text, cuts)) {
    const r = decoder.push(m)
    if (Either.isLeft(r)) return Either.left(r.left)
    events.push(...r.right)
  }
  const end = decoder.end()
  return Either.isLeft(end) ? Either.left(end.left) : Either.right(events)
}

describe("StreamDecoder", () => {
  it("decodes the documented event sequence (CRLF framing)", () => {
    const r = decodeText(documented)
    expect(Either.getOrThrow(r)).toEqual([
      { _tag: "start", id: "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", model: "claude-sonnet-4-5" },
      { _tag: "usage", usage: { inputTokens: 480, outputTokens: 2, cachedInputTokens: 8 } },
      { _tag: "reasoning_delta", text: "Let me" },
      { _tag: "reasoning_delta", text: "", signature: "EqQBCgIYAhIM" },
      { _tag: "text_delta", text: "Okay" },
      { _tag: "tool_call_start", index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather" },
      { _tag: "tool_call_delta", index: 0, arguments: '{"location": "San Fra' },
      { _tag: "tool_call_delta", index: 0, arguments: 'ncisco, CA"}' },
      { _tag: "tool_call_end", index: 0 },
      {
        _tag: "finish",
        finishReason: "tool_calls",
        usage: { inputTokens: 480, outputTokens: 89, cachedInputTokens: 8 },
      },
    ])
  })

  it("fails on an error event and on a stream cut before message_stop", () => {
    const head = documented.split("\r\n\r\n").slice(0, 3).join("\n\n")
    const withError = `${head}\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`
    const failed = decodeText(withError)
    expect(Either.isLeft(failed) && failed.left).toMatchObject({ _tag: "UpstreamError", status: 529 })
    const cut = decodeText(head)
    expect(Either.isLeft(cut) && cut.left).toMatchObject({ _tag: "UpstreamError", status: 502 })
  })
})

// ---- property: canonical → Anthropic SSE → canonical keeps the answer ---------------------

type Gen =
  | { kind: "text"; text: string }
  | { kind: "reasoning"; text: string; signature: string }
  | { kind: "redacted"; data: string }
  | { kind: "tool"; id: string; name: string; args: Record<string, unknown> }

const word = fc.string({ minLength: 1, maxLength: 12 })
const genPart: fc.Arbitrary<Gen> = fc.oneof(
  fc.record({ kind: fc.constant("text" as const), text: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant("reasoning" as const), text: fc.string({ maxLength: 40 }), signature: word }),
  fc.record({ kind: fc.constant("redacted" as const), data: word }),
  fc.record({
    kind: fc.constant("tool" as const),
    id: word,
    name: fc.stringMatching(/^[a-z_]{1,10}$/),
    args: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })).map(wire),
  }),
)

/** Split a string into pieces at the given fractions. */
const splitAt = (s: string, cuts: ReadonlyArray<number>): Array<string> => {
  const points = [...new Set(cuts.map((c) => Math.floor(c * s.length)))].filter((p) => p > 0 && p < s.length)
  points.sort((a, b) => a - b)
  const out: Array<string> = []
  let last = 0
  for (const p of [...points, s.length]) {
    out.push(s.slice(last, p))
    last = p
  }
  return out
}

const toEvents = (parts: ReadonlyArray<Gen>, cuts: ReadonlyArray<number>): Array<StreamEvent> => {
  const events: Array<StreamEvent> = []
  let tool = 0
  for (const p of parts) {
    if (p.kind === "text") for (const t of splitAt(p.text, cuts)) events.push({ _tag: "text_delta", text: t })
    else if (p.kind === "reasoning") {
      for (const t of splitAt(p.text, cuts)) if (t !== "") events.push({ _tag: "reasoning_delta", text: t })
      events.push({ _tag: "reasoning_delta", text: "", signature: p.signature })
    } else if (p.kind === "redacted") events.push({ _tag: "reasoning_delta", text: "", redacted: p.data })
    else {
      const index = tool++
      events.push({ _tag: "tool_call_start", index, id: p.id, name: p.name })
      for (const a of splitAt(JSON.stringify(p.args), cuts))
        events.push({ _tag: "tool_call_delta", index, arguments: a })
      events.push({ _tag: "tool_call_end", index })
    }
  }
  return events
}

/** What a client ends up with: consecutive text parts read as one block. */
const expectedParts = (parts: ReadonlyArray<Gen>): Array<Part> => {
  const out: Array<Part> = []
  for (const p of parts) {
    const last = out[out.length - 1]
    if (p.kind === "text") {
      if (last?.type === "text") out[out.length - 1] = { type: "text", text: last.text + p.text }
      else out.push({ type: "text", text: p.text })
    } else if (p.kind === "reasoning") out.push({ type: "reasoning", text: p.text, signature: p.signature })
    else if (p.kind === "redacted") out.push({ type: "reasoning", text: "", redacted: p.data })
    else out.push({ type: "tool_call", id: p.id, name: p.name, arguments: JSON.stringify(p.args) })
  }
  return out
}

const assemble = (events: ReadonlyArray<StreamEvent>): Array<Part> => {
  const out: Array<Part> = []
  const tools = new Map<number, number>()
  for (const e of events) {
    const last = out[out.length - 1]
    if (e._tag === "text_delta") {
      if (last?.type === "text") out[out.length - 1] = { type: "text", text: last.text + e.text }
      else out.push({ type: "text", text: e.text })
    } else if (e._tag === "reasoning_delta") {
      if (e.redacted !== undefined) out.push({ type: "reasoning", text: "", redacted: e.redacted })
      else {
        const open = last?.type === "reasoning" && last.signature === undefined && last.redacted === undefined
        const text = (open ? last.text : "") + e.text
        const part: Part =
          e.signature === undefined ? { type: "reasoning", text } : { type: "reasoning", text, signature: e.signature }
        if (open) out[out.length - 1] = part
        else out.push(part)
      }
    } else if (e._tag === "tool_call_start") {
      tools.set(e.index, out.length)
      out.push({ type: "tool_call", id: e.id, name: e.name, arguments: "" })
    } else if (e._tag === "tool_call_delta") {
      const at = tools.get(e.index)!
      const p = out[at]!
      if (p.type === "tool_call") out[at] = { ...p, arguments: p.arguments + e.arguments }
    }
  }
  return out.map((p) => (p.type === "tool_call" && p.arguments === "" ? { ...p, arguments: "{}" } : p))
}

describe("property: canonical events → Anthropic SSE → canonical events", () => {
  it("keeps parts, signatures, tool arguments, the finish reason and usage, however the bytes are cut", () => {
    fc.assert(
      fc.property(
        fc.array(genPart, { maxLength: 6 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        fc.array(fc.nat({ max: 5000 }), { maxLength: 8 }),
        fc.constantFrom("stop", "length", "tool_calls", "refusal", "stop_sequence" as const),
        fc.record({ input: fc.nat(1000), cached: fc.nat(500), written: fc.nat(500), output: fc.nat(1000) }),
        (parts, cuts, byteCuts, finishReason, u) => {
          const finalUsage: Usage = {
            inputTokens: u.input + u.cached + u.written,
            outputTokens: u.output,
            ...(u.cached > 0 ? { cachedInputTokens: u.cached } : {}),
            ...(u.written > 0 ? { cacheCreationInputTokens: u.written } : {}),
          }
          const events: Array<StreamEvent> = [
            { _tag: "start", id: "msg_p", model: "m" },
            ...toEvents(parts, cuts),
            {
              _tag: "finish",
              finishReason,
              ...(finishReason === "stop_sequence" ? { stopSequence: "END" } : {}),
              usage: finalUsage,
            },
          ]
          const sse = encodeAll(events).join("")
          const decoded = Either.getOrThrow(decodeText(sse, byteCuts))
          expect(assemble(decoded)).toEqual(expectedParts(parts))
          const finish = decoded.at(-1)!
          expect(finish).toEqual({
            _tag: "finish",
            finishReason,
            ...(finishReason === "stop_sequence" ? { stopSequence: "END" } : {}),
            usage: finalUsage,
          })
        },
      ),
      { numRuns: 300 },
    )
  })
})
