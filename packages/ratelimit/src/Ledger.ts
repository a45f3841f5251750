/**
 * Spend and usage per key, kept for every budget period at once (total, month, ISO week, UTC
 * day) so a key's budget period can change without losing history and the admin API can show
 * all of them. Amounts are integers (nano-USD, tokens): additions are exact and atomic.
 */
import { Data, Effect } from "effect"
import * as Periods from "./Periods.ts"
import type { BudgetPeriod } from "./Policy.ts"

export interface Counters {
  readonly nanoUsd: number
  readonly requests: number
  readonly inputTokens: number
  readonly outputTokens: number
}

export const zero: Counters = { nanoUsd: 0, requests: 0, inputTokens: 0, outputTokens: 0 }

/** The answer to a reservation: `spent` includes the hold when `ok`. */
export interface Reservation {
  readonly ok: boolean
  readonly spent: number
}

export class LedgerUnavailable extends Data.TaggedError("LedgerUnavailable")<{ readonly reason: string }> {}

export interface Ledger {
  /** Nano-USD spent by `id` in the current `period`. */
  readonly spent: (id: string, period: BudgetPeriod, now: number) => Effect.Effect<number, LedgerUnavailable>
  /**
   * Atomically: if `id` has spent less than `limit` in `period` and `amount` more still fits,
   * add `amount` to the spend of every period (a hold, corrected later with `record`).
   */
  readonly reserve: (
    id: string,
    period: BudgetPeriod,
    limit: number,
    amount: number,
    now: number,
  ) => Effect.Effect<Reservation, LedgerUnavailable>
  /** Add one request's usage to every period (amounts may be negative: a hold given back). */
  readonly record: (id: string, amounts: Counters, now: number) => Effect.Effect<void, LedgerUnavailable>
  /** Current counters of every period. */
  readonly usage: (
    id: string,
    now: number,
  ) => Effect.Effect<Readonly<Record<BudgetPeriod, Counters>>, LedgerUnavailable>
}

const add = (a: Counters, b: Counters): Counters => ({
  nanoUsd: a.nanoUsd + b.nanoUsd,
  requests: a.requests + b.requests,
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
})

/** This process only. */
export const memory = (): Ledger => {
  // id → period → [period key, counters]; a stale period key is simply replaced.
  const entries = new Map<string, Map<BudgetPeriod, readonly [string, Counters]>>()
  const current = (id: string, period: BudgetPeriod, now: number): Counters => {
    const e = entries.get(id)?.get(period)
    return e !== undefined && e[0] === Periods.key(period, now) ? e[1] : zero
  }
  const record = (id: string, amounts: Counters, now: number) => {
    const byPeriod = entries.get(id) ?? new Map<BudgetPeriod, readonly [string, Counters]>()
    for (const p of Periods.all) byPeriod.set(p, [Periods.key(p, now), add(current(id, p, now), amounts)])
    entries.set(id, byPeriod)
  }
  return {
    spent: (id, period, now) => Effect.sync(() => current(id, period, now).nanoUsd),
    reserve: (id, period, limit, amount, now) =>
      Effect.sync((): Reservation => {
        const spent = current(id, period, now).nanoUsd
        if (spent >= limit || spent + amount > limit) return { ok: false, spent }
        record(id, { ...zero, nanoUsd: amount }, now)
        return { ok: true, spent: spent + amount }
      }),
    record: (id, amounts, now) => Effect.sync(() => record(id, amounts, now)),
    usage: (id, now) =>
      Effect.sync(
        () => Object.fromEntries(Periods.all.map((p) => [p, current(id, p, now)])) as Record<BudgetPeriod, Counters>,
      ),
  }
}
