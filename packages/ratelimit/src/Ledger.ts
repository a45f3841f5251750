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

export class LedgerUnavailable extends Data.TaggedError("LedgerUnavailable")<{ readonly reason: string }> {}

export interface Ledger {
  /** Nano-USD spent by `id` in the current `period`. */
  readonly spent: (id: string, period: BudgetPeriod, now: number) => Effect.Effect<number, LedgerUnavailable>
  /** Add one request's usage to every period. */
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
  return {
    spent: (id, period, now) => Effect.sync(() => current(id, period, now).nanoUsd),
    record: (id, amounts, now) =>
      Effect.sync(() => {
        const byPeriod = entries.get(id) ?? new Map<BudgetPeriod, readonly [string, Counters]>()
        for (const p of Periods.all) byPeriod.set(p, [Periods.key(p, now), add(current(id, p, now), amounts)])
        entries.set(id, byPeriod)
      }),
    usage: (id, now) =>
      Effect.sync(
        () => Object.fromEntries(Periods.all.map((p) => [p, current(id, p, now)])) as Record<BudgetPeriod, Counters>,
      ),
  }
}
