/** The ledger in Redis: one hash per key and period, incremented in one MULTI, bounded by a timeout. */
import { Effect } from "effect"
import type { Redis } from "ioredis"
import { type Counters, type Ledger, LedgerUnavailable, zero } from "./Ledger.ts"
import * as Periods from "./Periods.ts"
import type { BudgetPeriod } from "./Policy.ts"

export interface RedisLedgerOptions {
  readonly redis: Redis
  readonly prefix: string
  readonly timeoutMs: number
}

const fields = ["nanoUsd", "requests", "inputTokens", "outputTokens"] as const

export const make = (options: RedisLedgerOptions): Ledger => {
  const { redis, prefix, timeoutMs } = options
  const hashKey = (id: string, period: BudgetPeriod, now: number) =>
    `${prefix}spend:{${id}}:${Periods.key(period, now)}`

  const run = <A>(what: string, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (e) => new LedgerUnavailable({ reason: `${what}: ${String(e)}` }) }).pipe(
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () => new LedgerUnavailable({ reason: `${what}: no answer within ${timeoutMs} ms` }),
      }),
    )

  const parse = (h: Record<string, string>): Counters => {
    const out: Record<string, number> = { ...zero }
    for (const f of fields) if (h[f] !== undefined) out[f] = Number(h[f])
    return out as unknown as Counters
  }

  return {
    spent: (id, period, now) =>
      run("budget read", () => redis.hget(hashKey(id, period, now), "nanoUsd")).pipe(
        Effect.map((v) => (v === null ? 0 : Number(v))),
      ),
    record: (id, amounts, now) =>
      run("spend record", () => {
        const tx = redis.multi()
        for (const p of Periods.all) {
          const k = hashKey(id, p, now)
          for (const f of fields) if (amounts[f] !== 0) tx.hincrby(k, f, amounts[f])
          const keep = Periods.retentionSeconds(p)
          if (keep !== undefined) tx.expire(k, keep)
        }
        return tx.exec()
      }).pipe(Effect.asVoid),
    usage: (id, now) =>
      run("usage read", () => {
        const pipe = redis.pipeline()
        for (const p of Periods.all) pipe.hgetall(hashKey(id, p, now))
        return pipe.exec()
      }).pipe(
        Effect.flatMap((results) => {
          const out: Partial<Record<BudgetPeriod, Counters>> = {}
          for (const [i, p] of Periods.all.entries()) {
            const [err, value] = results?.[i] ?? [new Error("no reply"), null]
            if (err) return Effect.fail(new LedgerUnavailable({ reason: `usage read: ${String(err)}` }))
            out[p] = parse((value ?? {}) as Record<string, string>)
          }
          return Effect.succeed(out as Record<BudgetPeriod, Counters>)
        }),
      ),
  }
}
