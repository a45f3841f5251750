/**
 * The Redis limiter against real Redis: the shared server at 127.0.0.1:6379 (a unique key
 * prefix per run) for atomicity across instances, and a private redis-server child for outages.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import type { Decision } from "../src/Limiter.ts"
import { Redis } from "ioredis"
import { KeyPolicy, type Principal } from "@sluice/core"
import { Stub } from "@sluice/testing"
import { afterAll } from "vitest"
import { Redis as RedisConn } from "@sluice/auth"
import { RateLimit, RedisLimiter, type Tokens } from "../src/index.ts"
import * as RedisServer from "./support/RedisServer.ts"

const shared = "redis://127.0.0.1:6379"
const prefix = `sluice-test:${randomUUID()}:`

const scope = Effect.runSync(Scope.make())
afterAll(async () => {
  const cleaner = new Redis(shared)
  const keys = await cleaner.keys(`${prefix}*`)
  if (keys.length > 0) await cleaner.del(...keys)
  cleaner.disconnect()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** A separate connection per limiter: these are separate instances as far as Redis knows. */
const instance = (url = shared, timeoutMs = 250) =>
  Effect.gen(function* () {
    const redis = yield* RedisConn.connect({ url })
    yield* RedisConn.awaitReady(redis, 2_000)
    return RedisLimiter.make({ redis, prefix, timeoutMs })
  }).pipe(Scope.extend(scope))

const fixed = (n: number): Tokens.Estimator => ({ estimate: () => n, exact: () => true })
const who = (id: string): Principal => ({ id, name: id })

describe("Redis limiter (shared Redis)", () => {
  it.effect("N concurrent takes over the limit, across two instances, admit exactly the limit", () =>
    Effect.gen(function* () {
      const a = yield* instance()
      const b = yield* instance()
      const key = `k:${randomUUID()}`
      const decisions = yield* Effect.all(
        Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? a : b).take(key, { rpm: 25 }, 0)),
        { concurrency: "unbounded" },
      )
      expect(decisions.filter((d) => d.allowed)).toHaveLength(25)
      const refused = decisions.find((d) => !d.allowed)!
      expect(refused.retryAfterMs).toBeGreaterThan(0)
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000 / 25 + 5)
    }),
  )

  it.effect("token buckets are shared too, and so are corrections", () =>
    Effect.gen(function* () {
      const a = yield* instance()
      const b = yield* instance()
      const key = `k:${randomUUID()}`
      const limits = { tpm: 1000 }
      const decisions = yield* Effect.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).take(key, limits, 100)),
        { concurrency: "unbounded" },
      )
      expect(decisions.filter((d) => d.allowed)).toHaveLength(10)
      // Instance A learns the real usage was 40 tokens less per call for 5 calls.
      yield* a.adjust(key, limits, -200)
      const after = yield* b.take(key, limits, 0)
      expect(after.tokens!.remaining).toBeGreaterThanOrEqual(200)
      expect(after.tokens!.remaining).toBeLessThan(210)
      // A request bigger than the bucket can never pass.
      const never = yield* b.take(key, limits, 1001)
      expect(never.allowed).toBe(false)
      expect(never.retryAfterMs).toBeUndefined()
    }),
  )

  it.effect("two middleware instances on one Redis let exactly the limit through to the handler", () =>
    Effect.gen(function* () {
      const stubA = Stub.stub()
      const stubB = Stub.stub()
      const a = yield* instance()
      const b = yield* instance()
      const ha = (yield* RateLimit.middleware({ store: a, estimator: fixed(5) }).build)(stubA.handler)
      const hb = (yield* RateLimit.middleware({ store: b, estimator: fixed(5) }).build)(stubB.handler)
      const p = { ...who(randomUUID()), policy: KeyPolicy.unsafeValues({ rateLimit: { rpm: 15, tpm: 100_000 } }) }
      const results = yield* Effect.all(
        Array.from({ length: 40 }, (_, i) => Effect.either((i % 2 === 0 ? ha : hb)(Stub.chat({}, { principal: p })))),
        { concurrency: "unbounded" },
      )
      expect(stubA.calls.length + stubB.calls.length).toBe(15)
      expect(results.filter((r) => r._tag === "Left" && r.left._tag === "RateLimited")).toHaveLength(25)
      const ok = results.find((r) => r._tag === "Right")
      expect(ok?._tag === "Right" && ok.right.headers["x-ratelimit-limit-requests"]).toBe("15")
    }),
  )
})

describe("Redis outage (a private redis-server)", () => {
  it("stopped mid-test: fail open passes, fail closed refuses, neither waits; both recover by themselves", async () => {
    const server = await RedisServer.start()
    try {
      const store = await Effect.runPromise(instance(server.url, 200))
      const stub = Stub.stub()
      const open = await Effect.runPromise(
        RateLimit.middleware({ store, estimator: fixed(1), failMode: "open" }).build,
      ).then((m) => m(stub.handler))
      const closed = await Effect.runPromise(
        RateLimit.middleware({ store, estimator: fixed(1), failMode: "closed" }).build,
      ).then((m) => m(stub.handler))
      const p = { ...who(randomUUID()), policy: KeyPolicy.unsafeValues({ rateLimit: { rpm: 1000 } }) }
      const call = (h: typeof open) => Effect.runPromise(Effect.either(h(Stub.chat({}, { principal: p }))))

      const up = await call(closed)
      expect(up._tag === "Right" && up.right.headers["x-ratelimit-remaining-requests"]).toBe("999")

      await server.stop()
      for (const [h, expected] of [
        [open, "Right"],
        [closed, "Left"],
      ] as const) {
        const t0 = Date.now()
        const r = await call(h)
        expect(Date.now() - t0).toBeLessThan(1_000)
        expect(r._tag).toBe(expected)
        if (r._tag === "Left") expect(r.left._tag).toBe("Unavailable")
        else expect(r.right.headers["x-ratelimit-limit-requests"]).toBeUndefined()
      }

      await server.start()
      const deadline = Date.now() + 10_000
      let recovered = false
      while (Date.now() < deadline && !recovered) {
        const r = await call(closed)
        recovered = r._tag === "Right" && r.right.headers["x-ratelimit-limit-requests"] === "1000"
        if (!recovered) await new Promise((res) => setTimeout(res, 100))
      }
      expect(recovered).toBe(true)
    } finally {
      server.resume()
      await server.stop()
    }
  })

  it("hung (no answers): the timeout bounds every request", async () => {
    const server = await RedisServer.start()
    try {
      const store = await Effect.runPromise(instance(server.url, 200))
      const stub = Stub.stub()
      const closed = await Effect.runPromise(RateLimit.middleware({ store, estimator: fixed(1) }).build).then((m) =>
        m(stub.handler),
      )
      const open = await Effect.runPromise(
        RateLimit.middleware({ store, estimator: fixed(1), failMode: "open" }).build,
      ).then((m) => m(stub.handler))
      const p = { ...who(randomUUID()), policy: KeyPolicy.unsafeValues({ rateLimit: { rpm: 1000 } }) }
      server.pause()
      const t0 = Date.now()
      const [c, o] = await Promise.all([
        Effect.runPromise(Effect.either(closed(Stub.chat({}, { principal: p })))),
        Effect.runPromise(Effect.either(open(Stub.chat({}, { principal: p })))),
      ])
      const took = Date.now() - t0
      expect(took).toBeGreaterThanOrEqual(150)
      expect(took).toBeLessThan(1_000)
      expect(c._tag === "Left" && c.left._tag).toBe("Unavailable")
      expect(o._tag).toBe("Right")
      server.resume()
    } finally {
      server.resume()
      await server.stop()
    }
  })
})

describe("Redis deadlines measure Redis, not this process's backlog", () => {
  it("a reply that waited behind a busy event loop is an answer, not a timeout", async () => {
    const redis = await Effect.runPromise(
      Effect.tap(RedisConn.connect({ url: shared }), (r) => RedisConn.awaitReady(r, 2_000)).pipe(Scope.extend(scope)),
    )
    // Right after the command is written, keep the event loop busy well past the deadline
    // before it can read the reply — as a burst of requests does. The reply is there: it wins.
    const send = redis.sendCommand.bind(redis)
    redis.sendCommand = ((...args: Parameters<typeof send>) => {
      const r = send(...args)
      queueMicrotask(() => {
        const until = Date.now() + 300
        while (Date.now() < until) {}
      })
      return r
    }) as typeof redis.sendCommand
    const store = RedisLimiter.make({ redis, prefix, timeoutMs: 50 })
    const decision = await Effect.runPromise(Effect.either(store.take(`k:${randomUUID()}`, { rpm: 5 }, 0)))
    expect(decision._tag === "Right" && decision.right.allowed).toBe(true)
  })

  it("a take answered after its deadline is given back, not lost", async () => {
    const server = await RedisServer.start()
    try {
      const store = await Effect.runPromise(instance(server.url, 100))
      const key = `k:${randomUUID()}`
      server.pause()
      const late = await Effect.runPromise(Effect.either(store.take(key, { rpm: 1 }, 0)))
      expect(late._tag === "Left" && late.left._tag).toBe("LimiterUnavailable")
      server.resume()
      // The paused take runs once Redis resumes, then is given back: the one request a minute
      // is still there for the next caller.
      let decision: Decision | undefined
      const deadline = Date.now() + 5_000
      while (Date.now() < deadline) {
        const r = await Effect.runPromise(Effect.either(store.take(key, { rpm: 1 }, 0)))
        if (r._tag === "Right") {
          decision = r.right
          if (decision.allowed) break
        }
        await new Promise((res) => setTimeout(res, 50))
        // A refused take did not consume: keep asking until the give-back has landed.
      }
      expect(decision?.allowed).toBe(true)
    } finally {
      server.resume()
      await server.stop()
    }
  })
})
