/**
 * Retries, fallbacks, balancing and the circuit breaker, against providers that fail on command.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import { Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import { Config, Gateway, MockProvider, ProviderRegistry, Router } from "@sluice/core"
import type { ProviderService } from "@sluice/core"
import { Stub } from "@sluice/testing"

/** A provider whose next answers are scripted: an error, or success. */
const scripted = (name: string, script: Array<GatewayError | "ok">) => {
  const calls: Array<string> = []
  const base = MockProvider.makeProvider(name)
  const next = () => script.shift() ?? "ok"
  const provider: ProviderService = {
    ...base,
    chat: (request, ctx) =>
      Effect.suspend(() => {
        calls.push(request.model)
        const step = next()
        return step === "ok" ? base.chat(request, ctx) : Effect.fail(step)
      }),
    chatStream: (request, ctx) =>
      Stream.suspend(() => {
        calls.push(request.model)
        const step = next()
        return step === "ok" ? base.chatStream(request, ctx) : Stream.fail(step)
      }),
  }
  return { provider, calls }
}

const upstream = (status: number, retryAfterSeconds?: number) =>
  new Errors.UpstreamError({
    message: `upstream ${status}`,
    status,
    ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
  })

const gateway = (raw: Record<string, unknown>, providers: Array<ProviderService>) => {
  const config = Either.getOrThrow(Config.fromObject(raw, {}))
  return Gateway.terminal({
    router: Router.make(config),
    registry: ProviderRegistry.fromProviders(providers),
    resilience: config.resilience,
  })
}

/** The same, timed by Effect's Clock and Random (TestClock / TestRandom under `it.effect`). */
const gatewayOnClock = (raw: Record<string, unknown>, providers: Array<ProviderService>) =>
  Effect.gen(function* () {
    const config = Either.getOrThrow(Config.fromObject(raw, {}))
    return Gateway.terminal({
      router: Router.make(config),
      registry: ProviderRegistry.fromProviders(providers),
      resilience: config.resilience,
      clock: yield* Effect.clock,
      random: yield* Effect.random,
    })
  })

const providersConfig = { a: { type: "mock" }, b: { type: "mock" } }

describe("Gateway retries and fallbacks", () => {
  it.live("retries a 503 on the same target and reports the attempts", () =>
    Effect.gen(function* () {
      const a = scripted("a", [upstream(503), upstream(503)])
      const handler = gateway(
        { providers: providersConfig, routes: [{ match: "m", to: "a/x", retry: { attempts: 3, backoff: "1ms" } }] },
        [a.provider],
      )
      const response = yield* handler(Stub.chat({ model: "m" }))
      expect(a.calls).toEqual(["x", "x", "x"])
      expect(response.headers).toMatchObject({ "x-sluice-target": "a/x", "x-sluice-attempts": "3" })
    }),
  )

  it.live("does not retry a 400, and does not fall back", () =>
    Effect.gen(function* () {
      const a = scripted("a", [upstream(400)])
      const b = scripted("b", [])
      const handler = gateway(
        {
          providers: providersConfig,
          routes: [{ match: "m", to: "a/x", fallbacks: ["b/y"], retry: { attempts: 3, backoff: "1ms" } }],
        },
        [a.provider, b.provider],
      )
      const error = yield* Effect.flip(handler(Stub.chat({ model: "m" })))
      expect(error).toMatchObject({ _tag: "UpstreamError", status: 400 })
      expect(a.calls).toHaveLength(1)
      expect(b.calls).toHaveLength(0)
    }),
  )

  it.live("falls back to the next target when retries are spent", () =>
    Effect.gen(function* () {
      const a = scripted("a", [upstream(500), upstream(500)])
      const b = scripted("b", [])
      const handler = gateway(
        {
          providers: providersConfig,
          routes: [{ match: "m", to: "a/x", fallbacks: ["b/y"], retry: { attempts: 2, backoff: "1ms" } }],
        },
        [a.provider, b.provider],
      )
      const response = yield* handler(Stub.chat({ model: "m" }))
      expect(a.calls).toEqual(["x", "x"])
      expect(b.calls).toEqual(["y"])
      expect(response.headers).toMatchObject({ "x-sluice-target": "b/y", "x-sluice-attempts": "3" })
    }),
  )

  it.effect("honours an upstream retry-after (on TestClock: no real wait)", () =>
    Effect.gen(function* () {
      const a = scripted("a", [upstream(429, 30)])
      const handler = yield* gatewayOnClock(
        { providers: providersConfig, routes: [{ match: "m", to: "a/x", retry: { attempts: 2, backoff: "1ms" } }] },
        [a.provider],
      )
      const call = yield* Effect.fork(handler(Stub.chat({ model: "m" })))
      yield* TestClock.adjust("29 seconds")
      expect(Option.isNone(yield* Fiber.poll(call))).toBe(true)
      expect(a.calls).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      const response = yield* Fiber.join(call)
      expect(response.headers["x-sluice-attempts"]).toBe("2")
    }),
  )

  it.effect("a tripped breaker half-opens after its cooldown on the clock", () =>
    Effect.gen(function* () {
      const a = scripted("a", [upstream(500)])
      const handler = yield* gatewayOnClock(
        {
          providers: providersConfig,
          models: { m: { provider: "a", model: "x" } },
          resilience: { circuitBreaker: { failures: 1, cooldown: "30s" } },
        },
        [a.provider],
      )
      yield* Effect.flip(handler(Stub.chat({ model: "m" })))
      expect(yield* Effect.flip(handler(Stub.chat({ model: "m" })))).toMatchObject({ _tag: "Unavailable" })
      yield* TestClock.adjust("30 seconds")
      yield* handler(Stub.chat({ model: "m" }))
      expect(a.calls).toHaveLength(2)
    }),
  )

  it.live("returns the last error when every target fails", () =>
    Effect.gen(function* () {
      const a = scripted("a", [upstream(503)])
      const b = scripted("b", [upstream(502)])
      const handler = gateway({ providers: providersConfig, routes: [{ match: "m", to: "a/x", fallbacks: ["b/y"] }] }, [
        a.provider,
        b.provider,
      ])
      const error = yield* Effect.flip(handler(Stub.chat({ model: "m" })))
      expect(error).toMatchObject({ _tag: "UpstreamError", status: 502 })
    }),
  )

  it.live("retries a stream that fails before its first event, never after", () =>
    Effect.gen(function* () {
      const a = scripted("a", [upstream(503)])
      const handler = gateway(
        { providers: providersConfig, routes: [{ match: "m", to: "a/x", retry: { attempts: 3, backoff: "1ms" } }] },
        [a.provider],
      )
      const response = yield* handler(Stub.chat({ model: "m", stream: true }))
      const events = yield* Stub.collect(response)
      expect(events[0]?._tag).toBe("start")
      expect(a.calls).toHaveLength(2)

      // A stream that breaks after its first event is not retried: the client sees the error.
      let opened = 0
      const breaking: ProviderService = {
        ...MockProvider.makeProvider("a"),
        chatStream: () =>
          Stream.suspend(() => {
            opened++
            return Stream.concat(
              Stream.fromIterable<StreamEvent>([
                { _tag: "start", id: "s", model: "x" },
                { _tag: "text_delta", text: "partial" },
              ]),
              Stream.fail(upstream(503)),
            )
          }),
      }
      const h2 = gateway(
        { providers: providersConfig, routes: [{ match: "m", to: "a/x", retry: { attempts: 3, backoff: "1ms" } }] },
        [breaking],
      )
      const r2 = yield* h2(Stub.chat({ model: "m", stream: true }))
      const failed = yield* Effect.flip(Stub.collect(r2))
      expect(failed).toMatchObject({ _tag: "UpstreamError", status: 503 })
      expect(opened).toBe(1)
    }),
  )

  it.live("times out a slow first byte and falls back", () =>
    Effect.gen(function* () {
      const slow: ProviderService = {
        ...MockProvider.makeProvider("a"),
        chatStream: () => Stream.fromEffect(Effect.never),
      }
      const b = scripted("b", [])
      const handler = gateway(
        {
          providers: providersConfig,
          routes: [{ match: "m", to: "a/x", fallbacks: ["b/y"], timeout: { firstByte: "50ms" } }],
        },
        [slow, b.provider],
      )
      const response = yield* handler(Stub.chat({ model: "m", stream: true }))
      expect(response.headers["x-sluice-target"]).toBe("b/y")
    }),
  )
})

describe("Gateway balancing and circuit breaker", () => {
  it("picks deployments by weight", () => {
    const targets = [
      { provider: "a", model: "x", weight: 3 },
      { provider: "b", model: "y", weight: 1 },
    ]
    const seq = [0.1, 0.5, 0.74, 0.76, 0.99]
    expect(seq.map((r) => Gateway.pick(targets, () => r).provider)).toEqual(["a", "a", "a", "b", "b"])
  })

  it.live("cools down a deployment that keeps failing and sends traffic to the healthy one", () =>
    Effect.gen(function* () {
      const a = scripted(
        "a",
        Array.from({ length: 50 }, () => upstream(500)),
      )
      const b = scripted("b", [])
      const handler = gateway(
        {
          providers: providersConfig,
          models: {
            m: {
              deployments: [
                { provider: "a", model: "x" },
                { provider: "b", model: "y" },
              ],
            },
          },
          resilience: { retry: { attempts: 3, backoff: "1ms" }, circuitBreaker: { failures: 2, cooldown: "1m" } },
        },
        [a.provider, b.provider],
      )
      for (let i = 0; i < 20; i++) yield* handler(Stub.chat({ model: "m" }))
      // Once open (2 failures), "a" gets no more traffic for the cooldown.
      expect(a.calls.length).toBe(2)
      expect(b.calls.length).toBe(20)
    }),
  )

  it.live("answers 503 with retry-after when every deployment is cooling down", () =>
    Effect.gen(function* () {
      const a = scripted(
        "a",
        Array.from({ length: 10 }, () => upstream(500)),
      )
      const handler = gateway(
        {
          providers: providersConfig,
          models: { m: { provider: "a", model: "x" } },
          resilience: { circuitBreaker: { failures: 1, cooldown: "30s" } },
        },
        [a.provider],
      )
      yield* Effect.flip(handler(Stub.chat({ model: "m" })))
      const error = yield* Effect.flip(handler(Stub.chat({ model: "m" })))
      expect(error).toMatchObject({ _tag: "Unavailable" })
      expect(Errors.retryAfter(error)).toBeGreaterThan(0)
      expect(a.calls).toHaveLength(1)
    }),
  )
})
