import { describe, expect, it } from "@effect/vitest"
import type { GatewayResponse, HandlerFn } from "@sluice/core"
import { Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Effect, Redacted, Stream } from "effect"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base"
import { Middleware, Traceparent } from "../src/index.ts"

const setup = (options: { prompts?: boolean } = {}) => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const lines: Array<Record<string, unknown>> = []
  const build = Middleware.make({
    tracer: provider.getTracer("test"),
    accessLog: { write: (l) => lines.push(JSON.parse(l)), prompts: options.prompts ?? false },
  })
  return { exporter, lines, build }
}

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((s) => s.name === name)

/** A stand-in for core's terminal: up to `tries` `sluice.attempt` spans, the first `fails` fail. */
const attempting =
  (tries: number, fails: number, respond: HandlerFn): HandlerFn =>
  (request) =>
    Effect.gen(function* () {
      for (let n = 1; ; n++) {
        const attempt =
          n <= fails ? Effect.fail(new Errors.UpstreamError({ message: "boom", status: 503 })) : respond(request)
        const exit = yield* Effect.exit(
          attempt.pipe(Effect.withSpan("sluice.attempt", { attributes: { "sluice.attempt": n } })),
        )
        if (exit._tag === "Success" || n >= tries) return yield* exit
      }
    })

const withTarget = (r: GatewayResponse): GatewayResponse => ({
  ...r,
  route: { target: "mock/mock-1", provider: "mock", model: "mock-1", attempts: 1 },
})

describe("tracing middleware", () => {
  it.effect("a chat gets one GenAI span, attempts as children, and one access-log line", () =>
    Effect.gen(function* () {
      const { exporter, lines, build } = setup()
      const stub = Stub.stub((req) => Effect.map(Stub.stub().handler(req), withTarget))
      const handler = (yield* build)(attempting(3, 1, stub.handler))
      const request = Stub.chat(
        { model: "gpt-x", maxTokens: 50 },
        { principal: { id: "k1", name: "team-a" }, credential: Redacted.make("sk-virtual-secret-123456") },
      )
      const response = yield* handler(request)
      expect(response._tag).toBe("Chat")

      const spans = exporter.getFinishedSpans()
      const [root] = byName(spans, "chat gpt-x")
      expect(root).toBeDefined()
      expect(root!.attributes).toMatchObject({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-x",
        "gen_ai.request.max_tokens": 50,
        "gen_ai.provider.name": "mock",
        "gen_ai.response.model": "mock",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 1,
        "sluice.key.name": "team-a",
        "sluice.target": "mock/mock-1",
      })
      expect(root!.parentSpanContext).toBeUndefined()
      const attempts = byName(spans, "sluice.attempt")
      expect(attempts).toHaveLength(2)
      for (const a of attempts) {
        expect(a.spanContext().traceId).toBe(root!.spanContext().traceId)
        expect(a.parentSpanContext?.spanId).toBe(root!.spanContext().spanId)
      }
      expect(attempts.map((a) => a.status.code)).toEqual([2, 1]) // ERROR then OK

      // Never the key itself anywhere in the span.
      expect(JSON.stringify(root!.attributes)).not.toContain("sk-virtual")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({
        type: "access",
        id: "req-test",
        key: "team-a",
        ingress: "openai",
        model: "gpt-x",
        target: "mock/mock-1",
        status: 200,
        tokens: { input: 3, output: 1 },
        trace_id: root!.spanContext().traceId,
      })
      expect(lines[0]).not.toHaveProperty("prompt")
      expect(JSON.stringify(lines[0])).not.toContain("sk-virtual")
    }),
  )

  it.effect("continues the client's traceparent and forwards its own span upstream", () =>
    Effect.gen(function* () {
      const { exporter, build } = setup()
      const stub = Stub.stub()
      const handler = (yield* build)(stub.handler)
      const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
      const clientSpan = "00f067aa0ba902b7"
      yield* handler(
        Stub.chat({}, { headers: { traceparent: `00-${clientTrace}-${clientSpan}-01`, tracestate: "vendor=x" } }),
      )
      const [root] = exporter.getFinishedSpans()
      expect(root!.spanContext().traceId).toBe(clientTrace)
      expect(root!.parentSpanContext?.spanId).toBe(clientSpan)
      const seen = Traceparent.parse(stub.calls[0]!.ctx.headers.traceparent)
      expect(seen).toEqual({ traceId: clientTrace, spanId: root!.spanContext().spanId, traceFlags: 1 })
      expect(stub.calls[0]!.ctx.headers.tracestate).toBe("vendor=x")
    }),
  )

  it.live("a stream keeps its span open until the end and records time to first token", () =>
    Effect.gen(function* () {
      const { exporter, lines, build } = setup()
      const events: Array<StreamEvent> = [
        { _tag: "start", id: "r1", model: "up-model" },
        { _tag: "reasoning_delta", text: "hmm" },
        { _tag: "text_delta", text: "hello" },
        { _tag: "finish", finishReason: "stop", usage: { inputTokens: 7, outputTokens: 9, reasoningTokens: 4 } },
      ]
      const stub = Stub.stub(() =>
        Effect.succeed({
          _tag: "ChatStream",
          headers: {},
          route: { target: "p/up-model", provider: "p", model: "up-model", attempts: 1 },
          events: Stream.fromIterable(events).pipe(
            Stream.tap(() => Effect.sleep("5 millis")),
            // An attempt span opened lazily inside the stream (as a provider would) still nests.
            Stream.withSpan("sluice.attempt"),
          ),
        }),
      )
      const handler = (yield* build)(stub.handler)
      const response = yield* handler(Stub.chat({ stream: true, model: "m" }))
      expect(exporter.getFinishedSpans().filter((s) => s.name === "chat m")).toHaveLength(0)
      expect(lines).toHaveLength(0)
      const got = yield* Stub.collect(response)
      expect(got).toEqual(events)
      const spans = exporter.getFinishedSpans()
      const [root] = byName(spans, "chat m")
      expect(root!.attributes).toMatchObject({
        "gen_ai.request.stream": true,
        "gen_ai.response.model": "up-model",
        "gen_ai.response.id": "r1",
        "gen_ai.usage.reasoning.output_tokens": 4,
        "gen_ai.usage.output_tokens": 9,
      })
      expect(root!.attributes["gen_ai.response.time_to_first_chunk"]).toBeGreaterThan(0)
      const [attempt] = byName(spans, "sluice.attempt")
      expect(attempt!.parentSpanContext?.spanId).toBe(root!.spanContext().spanId)
      expect(lines[0]).toMatchObject({ stream: true, status: 200, tokens: { input: 7, output: 9, reasoning: 4 } })
      expect(lines[0]!.ttft_ms).toBeGreaterThan(0)
    }),
  )

  it.effect("an error before the answer marks the span and the log with the error's status", () =>
    Effect.gen(function* () {
      const { exporter, lines, build } = setup()
      const handler = (yield* build)(attempting(2, 2, Stub.stub().handler))
      const error = yield* Effect.flip(handler(Stub.chat({ model: "m" })))
      expect(error._tag).toBe("UpstreamError")
      const [root] = byName(exporter.getFinishedSpans(), "chat m")
      expect(root!.status.code).toBe(2)
      expect(root!.attributes["error.type"]).toBe("UpstreamError")
      expect(root!.attributes["http.response.status_code"]).toBe(503)
      expect(lines[0]).toMatchObject({ status: 503, error: { type: "UpstreamError" } })
    }),
  )

  it.effect("an error in the middle of a stream ends the span with that error", () =>
    Effect.gen(function* () {
      const { exporter, lines, build } = setup()
      const stub = Stub.stub(() =>
        Effect.succeed({
          _tag: "ChatStream",
          headers: {},
          events: Stream.concat(
            Stream.make<Array<StreamEvent>>({ _tag: "start", id: "r", model: "m" }, { _tag: "text_delta", text: "a" }),
            Stream.fail<GatewayError>(new Errors.GuardrailViolation({ message: "blocked", policy: "pii" })),
          ),
        }),
      )
      const handler = (yield* build)(stub.handler)
      const response = yield* handler(Stub.chat({ stream: true, model: "m" }))
      const error = yield* Effect.flip(Stub.collect(response))
      expect(error._tag).toBe("GuardrailViolation")
      const [root] = byName(exporter.getFinishedSpans(), "chat m")
      expect(root!.attributes["error.type"]).toBe("GuardrailViolation")
      expect(lines[0]).toMatchObject({ error: { type: "GuardrailViolation" } })
    }),
  )

  it.effect("logs the prompt only when asked, with secrets masked", () =>
    Effect.gen(function* () {
      const quiet = setup()
      const loud = setup({ prompts: true })
      const text = "my key is sk-proj-abcdefghijklmnop1234 and email me"
      const req = Stub.chat({ messages: [{ role: "user", parts: [{ type: "text", text }] }] })
      yield* (yield* quiet.build)(Stub.stub().handler)(req)
      yield* (yield* loud.build)(Stub.stub().handler)(req)
      expect(quiet.lines[0]).not.toHaveProperty("prompt")
      expect(loud.lines[0]!.prompt).toBe("user: my key is [REDACTED] and email me")
    }),
  )

  it.effect("the key an inner middleware notes (typed, in ctx.notes) reaches the span and the log", () =>
    Effect.gen(function* () {
      const { exporter, lines, build } = setup()
      const stub = Stub.stub()
      // What auth does after verifying a key: note its principal for the middleware outside it.
      const auth: HandlerFn = (request) =>
        Effect.suspend(() => {
          if (request.ctx.notes !== undefined) request.ctx.notes.principal = { id: "kb", name: "team-b" }
          return stub.handler(request)
        })
      yield* (yield* build)(auth)(Stub.chat({ model: "m" }))
      const [root] = byName(exporter.getFinishedSpans(), "chat m")
      expect(root!.attributes["sluice.key.name"]).toBe("team-b")
      expect(lines[0]).toMatchObject({ key: "team-b" })
      // Also without spans (metrics and logs only).
      const quiet: Array<Record<string, unknown>> = []
      const noSpans = yield* Middleware.make({ accessLog: { write: (l) => quiet.push(JSON.parse(l)), prompts: false } })
      yield* noSpans(auth)(Stub.chat({ model: "m" }))
      expect(quiet[0]).toMatchObject({ key: "team-b" })
    }),
  )

  it.effect("with nothing to record, the middleware steps aside and traceparent passes through", () =>
    Effect.gen(function* () {
      const stub = Stub.stub()
      const handler = (yield* Middleware.make({}))(stub.handler)
      // Nothing to record: the middleware steps aside entirely (a no-op exporter costs nothing).
      expect(handler).toBe(stub.handler)
      const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
      yield* handler(Stub.chat({}, { headers: { traceparent: tp } }))
      expect(stub.calls[0]!.ctx.headers.traceparent).toBe(tp)
    }),
  )
})

describe("traceparent", () => {
  it("parses valid headers and rejects invalid ones", () => {
    expect(Traceparent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
    })
    expect(Traceparent.parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).toBeUndefined()
    expect(Traceparent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")).toBeUndefined()
    expect(Traceparent.parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBeUndefined()
    expect(Traceparent.parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")).toBeUndefined()
    expect(Traceparent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")).toBeUndefined()
    expect(Traceparent.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")?.spanId).toBe(
      "00f067aa0ba902b7",
    )
    expect(Traceparent.format({ traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 0 })).toBe(
      `00-${"a".repeat(32)}-${"b".repeat(16)}-00`,
    )
  })
})
