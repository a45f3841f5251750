/** The budgets middleware alone, against a stub handler; and the Redis ledger on the shared Redis. */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { type GatewayResponse, KeyPolicy, type Principal } from "@sluice/core"
import { Errors, type StreamEvent, type Usage } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Redis } from "ioredis"
import { Budgets, Ledger, Periods, Prices, RedisLedger } from "../src/index.ts"

const prices = {
  "gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 },
  "claude-*": { input: 3, output: 15 },
}

const key = (budget?: unknown, id = "team-a"): Principal => ({
  id,
  name: id,
  policy: budget === undefined ? KeyPolicy.empty : KeyPolicy.unsafeValues({ budget }),
})

const answering = (usage: Usage, model = "gpt-4o") =>
  Stub.stub((request) =>
    Effect.succeed(
      request._tag === "Chat" && request.chat.stream
        ? {
            _tag: "ChatStream",
            events: Stream.fromIterable<StreamEvent>([
              { _tag: "start", id: "s", model },
              { _tag: "text_delta", text: "hi" },
              { _tag: "finish", finishReason: "stop", usage },
            ]),
            headers: {},
          }
        : { _tag: "Chat", chat: Stub.chatResponse({ model, usage }), headers: {} },
    ),
  )

const build = (stub: Stub.Stub, options: Partial<Budgets.BudgetOptions> = {}) =>
  Effect.gen(function* () {
    const ledger = options.ledger ?? Ledger.memory()
    const handler = (yield* Budgets.middleware({ prices, ...options, ledger }).build)(stub.handler)
    return { handler, ledger }
  })

const drain = (r: GatewayResponse) => (r._tag === "ChatStream" ? Stream.runDrain(r.events) : Effect.void)

describe("budgets middleware", () => {
  it.effect("prices a complete answer from its usage (cached input at its own price)", () =>
    Effect.gen(function* () {
      const stub = answering({ inputTokens: 1_000_000, outputTokens: 100_000, cachedInputTokens: 400_000 })
      const { handler, ledger } = yield* build(stub)
      yield* handler(Stub.chat({ model: "gpt-4o" }, { principal: key() }))
      const u = yield* ledger.usage("team-a", Date.now())
      // 600k × $2.5/M + 400k × $1.25/M + 100k × $10/M = 1.5 + 0.5 + 1.0
      expect(Prices.toUsd(u.total.nanoUsd)).toBeCloseTo(3.0, 9)
      expect(u.monthly).toEqual(u.total)
      expect(u.total).toMatchObject({ requests: 1, inputTokens: 1_000_000, outputTokens: 100_000 })
    }),
  )

  it.effect("prices a streamed answer from its finish usage, not $0", () =>
    Effect.gen(function* () {
      const stub = answering({ inputTokens: 2000, outputTokens: 1000 }, "claude-sonnet-4-5")
      const { handler, ledger } = yield* build(stub)
      const response = yield* handler(Stub.chat({ model: "claude-sonnet-4-5", stream: true }, { principal: key() }))
      expect((yield* ledger.usage("team-a", Date.now())).total.requests).toBe(0)
      yield* drain(response)
      // 2000 × $3/M + 1000 × $15/M = 0.006 + 0.015
      expect(Prices.toUsd((yield* ledger.usage("team-a", Date.now())).total.nanoUsd)).toBeCloseTo(0.021, 9)
    }),
  )

  it.effect("refuses a key over its budget with 403 before the handler sees the request", () =>
    Effect.gen(function* () {
      const stub = answering({ inputTokens: 1_000_000, outputTokens: 0 })
      const { handler } = yield* build(stub)
      const p = key({ usd: 5, period: "monthly" })
      const first = yield* handler(Stub.chat({ model: "gpt-4o" }, { principal: p }))
      expect(first.headers["x-sluice-budget-remaining-usd"]).toBe("5.000000000")
      yield* handler(Stub.chat({ model: "gpt-4o" }, { principal: p }))
      // $5.00 spent of $5.00.
      const error = yield* Effect.flip(handler(Stub.chat({ model: "gpt-4o" }, { principal: p })))
      expect(error._tag).toBe("PermissionDenied")
      expect(Errors.httpStatus(error)).toBe(403)
      expect(error.message).toContain("$5.00 of $5.00 spent this month")
      expect(error.message).toContain("resets at")
      expect(stub.calls).toHaveLength(2)
      // Another key is not affected.
      yield* handler(Stub.chat({ model: "gpt-4o" }, { principal: key({ usd: 5 }, "team-b") }))
      expect(stub.calls).toHaveLength(3)
    }),
  )

  it.effect("a new period starts from zero", () =>
    Effect.gen(function* () {
      let now = Date.parse("2025-01-31T23:00:00Z")
      const stub = answering({ inputTokens: 1_000_000, outputTokens: 0 })
      const { handler } = yield* build(stub, { now: () => now })
      const p = key({ usd: 2, period: "monthly" })
      yield* handler(Stub.chat({ model: "gpt-4o" }, { principal: p }))
      const refused = yield* Effect.flip(handler(Stub.chat({ model: "gpt-4o" }, { principal: p })))
      expect(refused.message).toContain("2025-02-01T00:00:00.000Z")
      now = Date.parse("2025-02-01T00:00:01Z")
      yield* handler(Stub.chat({ model: "gpt-4o" }, { principal: p }))
      expect(stub.calls).toHaveLength(2)
    }),
  )

  it.effect("a budgeted key cannot use a model without a price; an unbudgeted key can (metered at $0)", () =>
    Effect.gen(function* () {
      const stub = answering({ inputTokens: 10, outputTokens: 10 }, "mystery")
      const { handler, ledger } = yield* build(stub)
      const error = yield* Effect.flip(handler(Stub.chat({ model: "mystery" }, { principal: key({ usd: 1 }) })))
      expect(error._tag).toBe("PermissionDenied")
      expect(error.message).toContain("no price")
      yield* handler(Stub.chat({ model: "mystery" }, { principal: key(undefined, "free") }))
      expect((yield* ledger.usage("free", Date.now())).total).toMatchObject({ nanoUsd: 0, requests: 1 })
    }),
  )

  it.effect("finds the price under the routed name (aliases)", () =>
    Effect.gen(function* () {
      const stub = answering({ inputTokens: 1_000_000, outputTokens: 0 }, "gpt-4o-2024-08-06")
      const { handler, ledger } = yield* build(stub, {
        aliases: (m) => (m === "smart" ? ["openai/gpt-4o", "gpt-4o"] : []),
      })
      yield* handler(Stub.chat({ model: "smart" }, { principal: key({ usd: 10 }) }))
      expect(Prices.toUsd((yield* ledger.usage("team-a", Date.now())).total.nanoUsd)).toBeCloseTo(2.5, 9)
    }),
  )

  const down: Ledger.Ledger = {
    spent: () => Effect.fail(new Ledger.LedgerUnavailable({ reason: "down" })),
    reserve: () => Effect.fail(new Ledger.LedgerUnavailable({ reason: "down" })),
    record: () => Effect.fail(new Ledger.LedgerUnavailable({ reason: "down" })),
    usage: () => Effect.fail(new Ledger.LedgerUnavailable({ reason: "down" })),
  }

  it.effect("ledger down: closed (default) refuses budgeted keys with 503; open lets them through", () =>
    Effect.gen(function* () {
      const stub = answering({ inputTokens: 1, outputTokens: 1 })
      const closed = yield* build(stub, { ledger: down })
      const error = yield* Effect.flip(closed.handler(Stub.chat({ model: "gpt-4o" }, { principal: key({ usd: 1 }) })))
      expect(error._tag).toBe("Unavailable")
      expect(stub.calls).toHaveLength(0)
      const open = yield* build(stub, { ledger: down, failMode: "open" })
      const ok = yield* open.handler(Stub.chat({ model: "gpt-4o" }, { principal: key({ usd: 1 }) }))
      expect(ok._tag).toBe("Chat")
    }),
  )

  it.effect("bad prices fail when built, naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Budgets.middleware({ ledger: Ledger.memory(), prices: { "gpt-4o": { input: 1, output: -1 } } }).build,
      )
      expect(error.message).toContain("prices.gpt-4o.output")
    }),
  )

  it("computes ISO-week and month boundaries in UTC", () => {
    const t = Date.parse("2025-01-01T12:00:00Z") // a Wednesday
    expect(Periods.key("weekly", t)).toBe("w2024-12-30")
    expect(Periods.resetsAt("weekly", t)?.toISOString()).toBe("2025-01-06T00:00:00.000Z")
    expect(Periods.key("daily", t)).toBe("d2025-01-01")
    expect(Periods.resetsAt("monthly", Date.parse("2024-12-31T23:59:59Z"))?.toISOString()).toBe(
      "2025-01-01T00:00:00.000Z",
    )
  })
})

describe("Redis ledger (shared Redis)", () => {
  it.effect("two instances add to one ledger, exactly", () =>
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
      const la = RedisLedger.make({ redis: a, prefix, timeoutMs: 1000 })
      const lb = RedisLedger.make({ redis: b, prefix, timeoutMs: 1000 })
      const now = Date.now()
      const one = { nanoUsd: 1_234_567, requests: 1, inputTokens: 10, outputTokens: 5 }
      yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? la : lb).record("k1", one, now)),
        { concurrency: "unbounded" },
      )
      const u = yield* la.usage("k1", now)
      expect(u.total).toEqual({ nanoUsd: 20 * 1_234_567, requests: 20, inputTokens: 200, outputTokens: 100 })
      expect(u.daily).toEqual(u.total)
      expect(yield* lb.spent("k1", "weekly", now)).toBe(20 * 1_234_567)
      expect(yield* lb.spent("k1", "weekly", now + 8 * 86_400_000)).toBe(0)
      expect((yield* la.usage("nobody", now)).total).toEqual(Ledger.zero)
    }).pipe(Effect.scoped),
  )
})
