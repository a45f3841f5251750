/**
 * The Anthropic ingress alone, in front of stub handlers (no providers): what the SDK sees when
 * a stream fails mid-way (a guardrail or an upstream), keep-alive pings, raw framing, model
 * paging, and that the handler gets the canonical request and the client's credential.
 */
import Anthropic from "@anthropic-ai/sdk"
import { Cause, Chunk, Duration, Effect, Exit, Redacted, Scope, Stream } from "effect"
import { Ingress, StreamEncoder } from "@sluice/anthropic"
import type { GatewayRequest, HandlerFn } from "@sluice/core"
import { Errors, type StreamEvent } from "@sluice/schema"
import { App, FetchHandler } from "@sluice/server"
import { Stub } from "@sluice/testing"
import { describe, expect, it } from "vitest"

const clientFor = (handler: HandlerFn, options: Ingress.Options = {}) => {
  const fetchHandler = FetchHandler.make(
    App.make({ ingresses: [Ingress.make(options)], handler: () => handler, bodyLimit: 1 << 20 }),
  )
  const fetch = (input: string | URL | Request, init?: RequestInit) => fetchHandler(new Request(input, init))
  return {
    fetch,
    sdk: new Anthropic({ apiKey: "sk-ant-from-client", baseURL: "http://gateway.test", maxRetries: 0, fetch }),
  }
}

const head: Array<StreamEvent> = [
  { _tag: "start", id: "msg_x", model: "m" },
  { _tag: "text_delta", text: "Card number: " },
]

const streaming = (events: Stream.Stream<StreamEvent, Errors.GatewayError>): HandlerFn =>
  Stub.stub(() => Effect.succeed({ _tag: "ChatStream", events, headers: {} })).handler

const params = { model: "m", max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] }

describe("Anthropic ingress", () => {
  it("a GuardrailViolation mid-stream ends the stream with an error event, not the blocked text", async () => {
    const { sdk, fetch } = clientFor(
      streaming(
        Stream.concat(
          Stream.fromIterable(head),
          Stream.fail(new Errors.GuardrailViolation({ message: "output blocked by policy pii", policy: "pii" })),
        ),
      ),
    )
    const stream = sdk.messages.stream(params)
    const texts: Array<string> = []
    stream.on("text", (t) => texts.push(t))
    const err = await stream.finalMessage().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "output blocked by policy pii" },
    })
    expect(texts).toEqual(["Card number: "])

    const raw = await (
      await fetch("http://gateway.test/v1/messages", {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ ...params, stream: true }),
      })
    ).text()
    expect(raw).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"invalid_request_error"/)
    expect(raw).not.toContain("message_stop")
  })

  it("a failure before any output is an HTTP error the SDK raises as its class", async () => {
    const { sdk } = clientFor(streaming(Stream.fail(new Errors.RateLimited({ message: "slow", retryAfterSeconds: 3 }))))
    const err = await sdk.messages
      .stream(params)
      .finalMessage()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.RateLimitError)
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).headers?.get("retry-after")).toBe("3")
  })

  it("pings while the upstream is silent, and every frame has its event line", async () => {
    const slow = Stream.fromIterable<StreamEvent>([
      ...head,
      { _tag: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 2 } },
    ]).pipe(Stream.tap((e) => (e._tag === "finish" ? Effect.sleep(Duration.millis(120)) : Effect.void)))
    const { fetch } = clientFor(streaming(slow), { pingIntervalMs: 30 })
    const res = await fetch("http://gateway.test/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ ...params, stream: true }),
    })
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const frames = (await res.text()).split("\n\n").filter((f) => f !== "")
    for (const f of frames) expect(f).toMatch(/^event: (\w+)\ndata: \{"type":"\1"/)
    const types = frames.map((f) => /^event: (\w+)/.exec(f)![1])
    expect(types.filter((t) => t === "ping").length).toBeGreaterThanOrEqual(3)
    expect(types.at(-1)).toBe("message_stop")
  })

  it("hands the handler a canonical request and the client's credential (x-api-key or Bearer)", async () => {
    const stub = Stub.stub()
    const { sdk } = clientFor(stub.handler)
    await sdk.messages.create({ ...params, system: "sys", stop_sequences: ["Z"] })
    const call = stub.calls[0] as Extract<GatewayRequest, { _tag: "Chat" }>
    expect(call.ctx.ingress).toBe("anthropic")
    expect(Redacted.value(call.ctx.credential!)).toBe("sk-ant-from-client")
    expect(call.chat).toMatchObject({
      model: "m",
      maxTokens: 100,
      stop: ["Z"],
      stream: false,
      messages: [
        { role: "system", parts: [{ type: "text", text: "sys" }] },
        { role: "user", parts: [{ type: "text", text: "hi" }] },
      ],
    })
    expect(Ingress.credential({ authorization: "Bearer tok-1" })).toBe("tok-1")
    expect(Ingress.credential({})).toBeUndefined()
  })

  it("pages models with limit and after_id as the SDK's auto-pager expects", async () => {
    const models = Array.from({ length: 5 }, (_, i) => ({ id: `model-${i}`, provider: "p" }))
    const { sdk } = clientFor(Stub.stub(() => Effect.succeed({ _tag: "ListModels", models, headers: {} })).handler)
    const ids: Array<string> = []
    for await (const m of sdk.models.list({ limit: 2 })) ids.push(m.id)
    expect(ids).toEqual(models.map((m) => m.id))
    const first = await sdk.models.list({ limit: 2 })
    expect(first.has_more).toBe(true)
    expect(first.last_id).toBe("model-1")
    const err = await sdk.models.list({ limit: 0 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.BadRequestError)
  })
})

describe("Anthropic stream body", () => {
  const deltas = Array.from({ length: 40 }, (_, i): StreamEvent => ({ _tag: "text_delta", text: `t${i} ` }))
  const events: Array<StreamEvent> = [
    ...head,
    ...deltas,
    { _tag: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 40 } },
  ]
  const inChunks = (n: number) =>
    Stream.fromChunks(
      ...Array.from({ length: Math.ceil(events.length / n) }, (_, i) =>
        Chunk.unsafeFromArray(events.slice(i * n, (i + 1) * n)),
      ),
    )
  const encoded = (() => {
    const enc = new StreamEncoder.Encoder()
    return [...events.flatMap((e) => enc.push(e)), ...enc.end()]
  })()

  it("is the encoder's frames in order, however the upstream chunks arrive", async () => {
    for (const n of [1, 3, 7, events.length]) {
      const sync = await Effect.runPromise(Stream.runCollect(Ingress.encodeStream(inChunks(n), 10_000)))
      expect(Chunk.toReadonlyArray(sync)).toEqual(encoded)
      const spaced = inChunks(n).pipe(Stream.mapChunksEffect((c) => Effect.as(Effect.sleep(Duration.millis(1)), c)))
      const async = await Effect.runPromise(Stream.runCollect(Ingress.encodeStream(spaced, 10_000)))
      expect(Chunk.toReadonlyArray(async)).toEqual(encoded)
    }
  })

  it("frames a failure as an error event and lets a defect through", async () => {
    const failed = await Effect.runPromise(
      Stream.runCollect(
        Ingress.encodeStream(
          Stream.concat(Stream.fromIterable(head), Stream.fail(new Errors.Internal({ message: "x" }))),
          10_000,
        ),
      ),
    )
    expect(Chunk.toReadonlyArray(failed).at(-1)).toMatch(/^event: error\n/)
    const died = await Effect.runPromiseExit(
      Stream.runCollect(Ingress.encodeStream(Stream.concat(Stream.fromIterable(head), Stream.die("boom")), 10_000)),
    )
    expect(Exit.isFailure(died) && Cause.isDie(died.cause)).toBe(true)
  })

  it("holds the upstream back while the client does not read, and stops it when the client goes away", async () => {
    let pulled = 0
    let stopped = false
    const endless = Stream.concat(
      Stream.fromIterable(head),
      Stream.repeatEffect(Effect.sync((): StreamEvent => ({ _tag: "text_delta", text: `${pulled++}` }))),
    ).pipe(Stream.ensuring(Effect.sync(() => (stopped = true))))
    await Effect.runPromise(
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const pull = yield* Scope.extend(Stream.toPull(Ingress.encodeStream(endless, 10_000)), scope)
        yield* pull
        yield* Effect.sleep(Duration.millis(30))
        // A few chunks of read-ahead at most, not the whole (endless) upstream.
        expect(pulled).toBeLessThan(20)
        yield* Scope.close(scope, Exit.void)
      }),
    )
    expect(stopped).toBe(true)
  })
})
