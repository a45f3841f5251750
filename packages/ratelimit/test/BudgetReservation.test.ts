/**
 * Budgets reserve a request's worst case before the call and settle it after: a concurrent
 * burst never spends past the budget (memory ledger, and two instances on one Redis), failed
 * calls give their hold back, streams settle at `finish`, and amounts print with their digits.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { type GatewayResponse, KeyPolicy, type Principal } from "@sluice/core"
import { Errors, type StreamEvent, type Usage } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Effect, Either, Stream } from "effect"
import { Redis } from "ioredis"
import { Budgets, Ledger, Prices, RedisLedger, type Tokens } from "../src/index.ts"

const prices = { "gpt-4o": { input: 2.5, output: 10 } }
const fixed = (n: number): Tokens.Estimator => ({ estimate: () => n, exact: () => true })
const key = (usd: number, id = randomUUID()): Principal => ({
  id,
  name: "burst",
  policy: KeyPolicy.unsafeValues({ budget: { usd, period: "daily" } }),
})

/** Answers after a pause (so a burst is all in flight at once) with `usage`, or fails. */
const upstream = (usage: Usage, options: { fail?: boolean; stream?: boolean } = {}) =>
  Stub.stub(() =>
    Effect.sleep("20 millis").pipe(
      Effect.zipRight(
        options.fail
          ? Effect.fail(new Errors.UpstreamError({ message: "boom", status: 502 }))
          : Effect.succeed<GatewayResponse>(
              options.stream
                ? {
                    _tag: "ChatStream",
                    events: Stream.fromIterable<StreamEvent>([
                      { _tag: "start", id: "s", model: "gpt-4o" },
                      { _tag: "text_delta", text: "hi" },
                      { _tag: "finish", finishReason: "stop", usage },
                    ]),
                    headers: {},
                  }
                : { _tag: "Chat", chat: Stub.chatResponse({ model: "gpt-4o", usage }), headers: {} },
            ),
      ),
    ),
  )

const handlerOf = (stub: Stub.Stub, ledger: Ledger.Ledger, extra: Partial<Budgets.BudgetOptions> = {}) =>
  Effect.map(Budgets.middleware({ prices, ledger, estimator: fixed(40), ...extra }).build, (m) => m(stub.handler))

// 40 input tokens × $2.5/M + 10 output tokens × $10/M = $0.0001 + $0.0001.
const request = (p: Principal, maxTokens: number | null = 10) =>
  Stub.chat({ model: "gpt-4o", ...(maxTokens === null ? {} : { maxTokens }) }, { principal: p })

describe("budget reservations", () => {
  it.live("a burst of 200 against $0.001/day admits exactly what the budget holds; the refusal says $0.001", () =>
    Effect.gen(function* () {
      const ledger = Ledger.memory()
      const stub = upstream({ inputTokens: 40, outputTokens: 10 })
      const handler = yield* handlerOf(stub, ledger)
      const p = key(0.001)
      const results = yield* Effect.all(
        Array.from({ length: 200 }, () => Effect.either(handler(request(p)))),
        { concurrency: "unbounded" },
      )
      const ok = results.filter(Either.isRight)
      const refused = results.filter(Either.isLeft).map((r) => r.left)
      expect(ok).toHaveLength(5)
      expect(stub.calls).toHaveLength(5)
      expect(refused.every((e) => e._tag === "PermissionDenied")).toBe(true)
      expect(refused[0]!.message).toContain("$0.001")
      expect(refused.some((e) => e.message.includes("$0.00 "))).toBe(false)
      const spent = (yield* ledger.usage(p.id, Date.now())).daily
      expect(spent).toMatchObject({ nanoUsd: 1_000_000, requests: 5, inputTokens: 200, outputTokens: 50 })
    }),
  )

  it.live("without max_tokens the default cap is reserved (and is configurable)", () =>
    Effect.gen(function* () {
      const stub = upstream({ inputTokens: 40, outputTokens: 10 })
      // Default 4096 output tokens × $10/M ≈ $0.041 > $0.01: refused before the call.
      const strict = yield* handlerOf(stub, Ledger.memory())
      const e = yield* Effect.flip(strict(request(key(0.01), null)))
      expect(e._tag).toBe("PermissionDenied")
      expect(e.message).toMatch(/may cost up to \$0\.04\d+/)
      expect(e.message).toContain("$0.01 of $0.01 left today")
      expect(stub.calls).toHaveLength(0)
      const small = yield* handlerOf(stub, Ledger.memory(), { defaultMaxOutputTokens: 100 })
      yield* small(request(key(0.01), null))
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.live("the hold settles to the real cost: cheaper answers leave room for more requests", () =>
    Effect.gen(function* () {
      const ledger = Ledger.memory()
      // Reserves $0.0002 each (10 output tokens) but really costs $0.0001 (no output).
      const stub = upstream({ inputTokens: 40, outputTokens: 0 })
      const handler = yield* handlerOf(stub, ledger)
      const p = key(0.001)
      for (let i = 0; i < 20; i++) yield* Effect.either(handler(request(p)))
      // Sequentially each settles before the next: 9 fit with a hold of 0.0002 on top of 0.0001 each,
      // the 10th leaves 0.0001 which is less than the next hold.
      expect(stub.calls).toHaveLength(9)
      expect((yield* ledger.usage(p.id, Date.now())).daily.nanoUsd).toBe(900_000)
    }),
  )

  it.live("a failed call gives its hold back; a stream settles at finish", () =>
    Effect.gen(function* () {
      const ledger = Ledger.memory()
      const p = key(0.001)
      const failing = yield* handlerOf(upstream({ inputTokens: 1, outputTokens: 1 }, { fail: true }), ledger)
      for (let i = 0; i < 10; i++) yield* Effect.either(failing(request(p)))
      expect((yield* ledger.usage(p.id, Date.now())).daily).toEqual(Ledger.zero)

      const streaming = yield* handlerOf(upstream({ inputTokens: 40, outputTokens: 5 }, { stream: true }), ledger)
      const response = yield* streaming(request(p))
      // Held while the stream is open.
      expect((yield* ledger.usage(p.id, Date.now())).daily.nanoUsd).toBe(200_000)
      if (response._tag === "ChatStream") yield* Stream.runDrain(response.events)
      // 40 × 2.5 + 5 × 10 = 150 000 nano-USD.
      expect((yield* ledger.usage(p.id, Date.now())).daily).toMatchObject({ nanoUsd: 150_000, requests: 1 })
    }),
  )

  it.live("two instances on one Redis: a burst of 200 admits exactly what the budget holds", () =>
    Effect.gen(function* () {
      const prefix = `sluice-test:${randomUUID()}:`
      const a = new Redis("redis://127.0.0.1:6379")
      const b = new Redis("redis://127.0.0.1:6379")
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          const keys = await a.keys(`${prefix}*`)
          if (keys.length > 0) await a.del(...keys)
          a.disconnect()
          b.disconnect()
        }),
      )
      // Connected before the burst, and a bound a loaded machine cannot hit: this is about atomicity.
      yield* Effect.promise(() => Promise.all([a.ping(), b.ping()]))
      const la = RedisLedger.make({ redis: a, prefix, timeoutMs: 2_000 })
      const lb = RedisLedger.make({ redis: b, prefix, timeoutMs: 2_000 })
      const stub = upstream({ inputTokens: 40, outputTokens: 10 })
      const ha = yield* handlerOf(stub, la)
      const hb = yield* handlerOf(stub, lb)
      const p = key(0.001)
      const results = yield* Effect.all(
        Array.from({ length: 200 }, (_, i) => Effect.either((i % 2 === 0 ? ha : hb)(request(p)))),
        { concurrency: "unbounded" },
      )
      expect(results.filter(Either.isRight)).toHaveLength(5)
      const lefts = results.filter(Either.isLeft).map((r) => r.left._tag)
      expect(new Set(lefts)).toEqual(new Set(["PermissionDenied"]))
      expect((yield* la.usage(p.id, Date.now())).daily).toMatchObject({ nanoUsd: 1_000_000, requests: 5 })
    }).pipe(Effect.scoped),
  )

  it("amounts print with the digits they have", () => {
    expect(Prices.formatUsd(1_000_000)).toBe("$0.001")
    expect(Prices.formatUsd(8_450_000_000)).toBe("$8.45")
    expect(Prices.formatUsd(5_000_000_000)).toBe("$5.00")
    expect(Prices.formatUsd(123)).toBe("$0.000000123")
    expect(Prices.formatUsd(0)).toBe("$0.00")
  })
})
