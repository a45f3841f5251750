/**
 * The ledger in Redis: one hash per key and period, incremented in one MULTI; a reservation is
 * one Lua script (check and hold, atomic across instances). Every call is bounded by a
 * timeout that measures Redis (see Deadline); a hold answered after its deadline is given back.
 */
import { Effect } from "effect"
import type { Redis } from "ioredis"
import * as Deadline from "./Deadline.ts"
import { type Counters, type Ledger, LedgerUnavailable, type Reservation, zero } from "./Ledger.ts"
import * as Periods from "./Periods.ts"
import type { BudgetPeriod } from "./Policy.ts"

export interface RedisLedgerOptions {
  readonly redis: Redis
  readonly prefix: string
  readonly timeoutMs: number
}

const fields = ["nanoUsd", "requests", "inputTokens", "outputTokens"] as const

/**
 * KEYS: the key's hash of every period. ARGV: which of KEYS is checked (1-based), limit, amount,
 * then the retention in seconds of each of KEYS (0 = keep). Returns {1 held | 0 refused, spent}.
 */
const reserveScript = `
local i = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local spent = tonumber(redis.call('HGET', KEYS[i], 'nanoUsd') or '0')
if spent >= limit or spent + amount > limit then return {0, spent} end
for j = 1, #KEYS do
  if amount ~= 0 then redis.call('HINCRBY', KEYS[j], 'nanoUsd', amount) end
  local keep = tonumber(ARGV[3 + j])
  if keep > 0 then redis.call('EXPIRE', KEYS[j], keep) end
end
return {1, spent + amount}
`

interface Scripts {
  sluiceReserve(...args: Array<string | number>): Promise<[number, number]>
}

export const make = (options: RedisLedgerOptions): Ledger => {
  const { redis, prefix, timeoutMs } = options
  const hashKey = (id: string, period: BudgetPeriod, now: number) =>
    `${prefix}spend:{${id}}:${Periods.key(period, now)}`

  redis.defineCommand("sluiceReserve", { numberOfKeys: Periods.all.length, lua: reserveScript })
  const scripts = redis as unknown as Scripts

  const run = <A>(what: string, f: () => Promise<A>, late?: (a: A) => void) =>
    Deadline.bounded({
      run: f,
      timeoutMs,
      late,
      onError: (reason) => new LedgerUnavailable({ reason: `${what}: ${reason}` }),
    })

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
    reserve: (id, period, limit, amount, now) => {
      const keys = Periods.all.map((p) => hashKey(id, p, now))
      const keep = Periods.all.map((p) => Periods.retentionSeconds(p) ?? 0)
      return run(
        "budget reservation",
        () => scripts.sluiceReserve(...keys, Periods.all.indexOf(period) + 1, limit, amount, ...keep),
        // Held after the caller was already answered: nobody will settle it, so it goes back.
        ([ok]) => {
          if (ok === 1 && amount !== 0) {
            const tx = redis.multi()
            for (const k of keys) tx.hincrby(k, "nanoUsd", -amount)
            tx.exec().catch(() => {})
          }
        },
      ).pipe(Effect.map(([ok, spent]): Reservation => ({ ok: ok === 1, spent: Number(spent) })))
    },
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
