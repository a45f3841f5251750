/** The rate-limit middleware alone, against a stub handler, with the in-memory store. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Stream } from "effect"
import { type GatewayResponse, KeyPolicy, type Principal } from "@sluice/core"
import { Errors, type StreamEvent } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Headers, Limiter, MemoryLimiter, Policy, RateLimit, Tokens } from "../src/index.ts"

const principal = (rateLimit?: unknown): Principal => ({
  id: "team-a",
  name: "team-a",
  policy: rateLimit === undefined ? KeyPolicy.empty : KeyPolicy.unsafeValues({ rateLimit }),
})

/** A fixed estimator keeps the arithmetic of these tests exact. */
const fixed = (n: number): Tokens.Estimator => ({ estimate: () => n, exact: () => true })

const build = (
  options: Partial<RateLimit.RateLimitOptions> & { store?: Limiter.LimiterStore },
  respond?: Parameters<typeof Stub.stub>[0],
) =>
  Effect.gen(function* () {
    const stub = Stub.stub(respond)
    const store = options.store ?? MemoryLimiter.make()
    const handler = (yield* RateLimit.middleware({ estimator: fixed(10), ...options, store }).build)(stub.handler)
    return { stub, handler, store }
  })

const asKey = (p: Principal, chat: Parameters<typeof Stub.chat>[0] = {}) => Stub.chat(chat, { principal: p })

describe("rate limit middleware", () => {
  it.effect("admits up to the limit with x-ratelimit-* headers, then answers RateLimited with retry-after", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build({})
      const p = principal({ rpm: 2, tpm: 1000 })
      const first = yield* handler(asKey(p))
      expect(first.headers).toMatchObject({
        "x-ratelimit-limit-requests": "2",
        "x-ratelimit-remaining-requests": "1",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "990",
      })
      expect(first.headers["x-ratelimit-reset-requests"]).toMatch(/^\d+(\.\d)?s$|^\d+ms$/)
      const second = yield* handler(asKey(p))
      expect(second.headers["x-ratelimit-remaining-requests"]).toBe("0")
      const third = yield* Effect.flip(handler(asKey(p)))
      expect(third._tag).toBe("RateLimited")
      expect(Errors.httpStatus(third)).toBe(429)
      expect(Errors.retryAfter(third)).toBeGreaterThanOrEqual(1)
      expect(Errors.retryAfter(third)).toBeLessThanOrEqual(30)
      expect(third.message).toContain("2 requests per minute")
      expect(stub.calls).toHaveLength(2)
    }),
  )

  it.effect("refills continuously: one request's worth comes back after 60s/rpm", () =>
    Effect.gen(function* () {
      let now = 1_000_000
      const { stub, handler } = yield* build({ store: MemoryLimiter.make(() => now) })
      const p = principal({ rpm: 6 })
      for (let i = 0; i < 6; i++) yield* handler(asKey(p))
      const refused = yield* Effect.flip(handler(asKey(p)))
      expect(Errors.retryAfter(refused)).toBe(10)
      now += 9_999
      expect((yield* Effect.flip(handler(asKey(p))))._tag).toBe("RateLimited")
      now += 1
      yield* handler(asKey(p))
      expect(stub.calls).toHaveLength(7)
    }),
  )

  it.effect("keys have separate buckets; a key's own limit beats the default; no limit = untouched", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build({ default: { rpm: 1 } })
      yield* handler(asKey({ id: "a", name: "a" }))
      expect((yield* Effect.flip(handler(asKey({ id: "a", name: "a" }))))._tag).toBe("RateLimited")
      yield* handler(asKey({ id: "b", name: "b" }))
      const own = { id: "c", name: "c", policy: KeyPolicy.unsafeValues({ rateLimit: { rpm: 3 } }) }
      yield* handler(asKey(own))
      const r = yield* handler(asKey(own))
      expect(r.headers["x-ratelimit-limit-requests"]).toBe("3")
      // Anonymous callers pass unmetered unless `anonymous` is configured.
      const anon = yield* handler(Stub.chat())
      expect(anon.headers["x-ratelimit-limit-requests"]).toBeUndefined()
      expect(stub.calls).toHaveLength(5)
    }),
  )

  it.effect("meters anonymous callers in one shared bucket when configured", () =>
    Effect.gen(function* () {
      const { handler } = yield* build({ anonymous: { rpm: 1 } })
      yield* handler(Stub.chat())
      expect((yield* Effect.flip(handler(Stub.chat())))._tag).toBe("RateLimited")
    }),
  )

  it.effect("corrects the token bucket with the real usage of a complete answer", () =>
    Effect.gen(function* () {
      const { handler } = yield* build({}, () =>
        Effect.succeed({
          _tag: "Chat",
          chat: Stub.chatResponse({ usage: { inputTokens: 12, outputTokens: 300 } }),
          headers: {},
        }),
      )
      const p = principal({ tpm: 1000 })
      const first = yield* handler(asKey(p))
      // Before the call only the estimate (10) was taken.
      expect(first.headers["x-ratelimit-remaining-tokens"]).toBe("990")
      const second = yield* handler(asKey(p))
      // After it, the bucket holds 1000 - 312 (real) - 10 (this estimate), give or take refill.
      const left = Number(second.headers["x-ratelimit-remaining-tokens"])
      expect(left).toBeGreaterThanOrEqual(678)
      expect(left).toBeLessThan(690)
    }),
  )

  it.effect("corrects a streamed answer at its finish event, before the client sees it", () =>
    Effect.gen(function* () {
      const store = MemoryLimiter.make()
      const events: Array<StreamEvent> = [
        { _tag: "start", id: "s1", model: "m" },
        { _tag: "text_delta", text: "hello" },
        { _tag: "finish", finishReason: "stop", usage: { inputTokens: 40, outputTokens: 460 } },
      ]
      const { handler } = yield* build({ store }, () =>
        Effect.succeed({ _tag: "ChatStream", events: Stream.fromIterable(events), headers: {} }),
      )
      const p = principal({ tpm: 1000 })
      const limits = { tpm: 1000 }
      const response = yield* handler(asKey(p, { stream: true }))
      expect(response.headers["x-ratelimit-remaining-tokens"]).toBe("990")
      // Not corrected until the stream runs.
      expect((yield* store.take("k:team-a", limits, 0)).tokens?.remaining).toBe(990)
      let atFinish: number | undefined
      yield* Stream.runForEach((response as Extract<GatewayResponse, { _tag: "ChatStream" }>).events, (e) =>
        e._tag === "finish"
          ? Effect.map(store.take("k:team-a", limits, 0), (d) => {
              atFinish = d.tokens?.remaining
            })
          : Effect.void,
      )
      expect(atFinish).toBeGreaterThanOrEqual(500)
      expect(atFinish).toBeLessThan(505)
    }),
  )

  it.effect("a stream cut off early is corrected with its last usage event", () =>
    Effect.gen(function* () {
      const store = MemoryLimiter.make()
      const { handler } = yield* build({ store }, () =>
        Effect.succeed({
          _tag: "ChatStream",
          events: Stream.concat(
            Stream.fromIterable<StreamEvent>([
              { _tag: "start", id: "s1", model: "m" },
              { _tag: "usage", usage: { inputTokens: 200, outputTokens: 0 } },
            ]),
            Stream.fail(new Errors.UpstreamError({ message: "reset", status: 502 })),
          ),
          headers: {},
        }),
      )
      const response = yield* handler(asKey(principal({ tpm: 1000 }), { stream: true }))
      const exit = yield* Effect.exit(
        Stream.runDrain((response as Extract<GatewayResponse, { _tag: "ChatStream" }>).events),
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const left = (yield* store.take("k:team-a", { tpm: 1000 }, 0)).tokens!.remaining
      expect(left).toBeGreaterThanOrEqual(800)
      expect(left).toBeLessThan(805)
    }),
  )

  it.effect("gives the estimate back when the call fails before answering", () =>
    Effect.gen(function* () {
      const store = MemoryLimiter.make()
      const { handler } = yield* build({ store }, () =>
        Effect.fail(new Errors.UpstreamError({ message: "boom", status: 500 })),
      )
      yield* Effect.flip(handler(asKey(principal({ tpm: 1000 }))))
      expect((yield* store.take("k:team-a", { tpm: 1000 }, 0)).tokens!.remaining).toBe(1000)
    }),
  )

  it.effect("refuses a request bigger than the whole token bucket, without a retry-after", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build({ estimator: fixed(5000) })
      const error = yield* Effect.flip(handler(asKey(principal({ tpm: 1000 }))))
      expect(error._tag).toBe("RateLimited")
      expect(Errors.retryAfter(error)).toBeUndefined()
      expect(error.message).toContain("5000 tokens")
      expect(stub.calls).toHaveLength(0)
    }),
  )

  it.effect("store failure: failMode open lets the request through unmetered", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build({
        failMode: "open",
        store: {
          take: () => Effect.fail(new Limiter.LimiterUnavailable({ reason: "down" })),
          adjust: () => Effect.void,
        },
      })
      const response = yield* handler(asKey(principal({ rpm: 1 })))
      expect(response._tag).toBe("Chat")
      expect(response.headers["x-ratelimit-limit-requests"]).toBeUndefined()
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("store failure: failMode closed (the default) refuses with 503", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build({
        store: {
          take: () => Effect.fail(new Limiter.LimiterUnavailable({ reason: "down" })),
          adjust: () => Effect.void,
        },
      })
      const error = yield* Effect.flip(handler(asKey(principal({ rpm: 1 }))))
      expect(error._tag).toBe("Unavailable")
      expect(stub.calls).toHaveLength(0)
    }),
  )

  it.effect("bad options fail when the middleware is built, naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        RateLimit.middleware({ store: MemoryLimiter.make(), estimator: fixed(1), default: { rpm: 0 } }).build,
      )
      expect(error.message).toContain("rateLimit.default.rpm")
      const mode = yield* Effect.flip(
        RateLimit.middleware({ store: MemoryLimiter.make(), estimator: fixed(1), failMode: "maybe" as "open" }).build,
      )
      expect(mode.message).toContain("rateLimit.failMode")
    }),
  )

  it("a key's rate limit is decoded once, when the key is loaded: a malformed one is refused there, by path", () => {
    const decoder = KeyPolicy.decoder(undefined, [Policy.rateLimit])
    const bad = decoder.decode({ rateLimit: { rpm: "ten", tpm: -1 } })
    expect(Either.isLeft(bad) && bad.left.map((i) => i.path)).toEqual(["rateLimit.rpm", "rateLimit.tpm"])
    const good = decoder.decode({ rateLimit: { rpm: 3 } })
    expect(Either.isRight(good) && Policy.rateLimit.get({ id: "k", name: "k", policy: good.right })).toEqual({ rpm: 3 })
  })
})

describe("token estimates", () => {
  it.effect("counts with a real BPE tokenizer", () =>
    Effect.gen(function* () {
      const e = yield* Tokens.loaded
      expect(e.exact()).toBe(true)
      const one = (text: string) =>
        e.estimate(Stub.chat({ messages: [{ role: "user", parts: [{ type: "text", text }] }] }))
      // "hello world" is 2 cl100k tokens; + 4 framing for the message + 3 for the reply primer.
      expect(one("hello world")).toBe(9)
      // Special-token text is ordinary text, not an error.
      expect(one("<|endoftext|>")).toBeGreaterThan(7)
      // BPE, not characters/4: CJK text takes about a token a character.
      expect(one("你好世界".repeat(100))).toBeGreaterThan(300)
      // Long prompts are extrapolated, still in the right range.
      const long = "The quick brown fox jumps over the lazy dog. ".repeat(2000)
      const n = one(long)
      expect(n).toBeGreaterThan(19_000)
      expect(n).toBeLessThan(21_000)
    }),
  )

  it.effect("the one-pass estimate stays close to the BPE count on prose, code, JSON and CJK", () =>
    Effect.gen(function* () {
      const bpe = yield* Tokens.loaded
      const samples = [
        "The quick brown fox jumps over the lazy dog. ".repeat(40),
        "You are a helpful assistant. Summarise the following meeting notes in three bullet points, " +
          "keeping every decision and its owner: the team agreed to ship version 2.4 on Tuesday.",
        "export const handler = async (req: Request): Promise<Response> => {\n  const body = await req.json()\n" +
          '  if (typeof body.model !== "string") return new Response("bad", { status: 400 })\n  return fetch(url, { method: "POST" })\n}\n',
        JSON.stringify({
          type: "object",
          properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 } },
        }),
        "Die Überprüfung der Käufe ergab, dass 1234 Bestellungen zwischen 2019 und 2023 storniert wurden.",
        "你好世界，今天天气很好。我们一起去公园散步吧。".repeat(5),
      ]
      for (const text of samples) {
        const exact = bpe.estimate(Stub.chat({ messages: [{ role: "user", parts: [{ type: "text", text }] }] }))
        const fast = Tokens.fast.estimate(Stub.chat({ messages: [{ role: "user", parts: [{ type: "text", text }] }] }))
        expect(fast / exact, `${text.slice(0, 40)}: ${fast} vs ${exact}`).toBeGreaterThan(0.7)
        expect(fast / exact, `${text.slice(0, 40)}: ${fast} vs ${exact}`).toBeLessThan(1.4)
      }
      expect(Tokens.fast.exact()).toBe(false)
    }),
  )

  it("formats reset durations as OpenAI does", () => {
    expect(Headers.duration(850)).toBe("850ms")
    expect(Headers.duration(6000)).toBe("6s")
    expect(Headers.duration(90_000)).toBe("1m30s")
  })
})
