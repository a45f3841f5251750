/**
 * The spend ledger in Postgres (`budgets.store: postgres`): one row per key, budget period and
 * period instance in `sluice_spend`, shared by every instance on the database and kept across
 * restarts. Additions are single upserts; a reservation locks its key's row for the period, so
 * concurrent reservations from any number of instances never overspend a budget.
 */
import type { PgClient } from "@effect/sql-pg"
import { Ledger, Periods } from "@sluice/ratelimit"
import { Effect } from "effect"

export interface Options {
  readonly sql: PgClient.PgClient
  /** Bound on every ledger operation. */
  readonly timeoutMs: number
}

type Period = (typeof Periods.all)[number]

interface Row {
  readonly period: string
  readonly period_key: string
  readonly nano_usd: string | number
  readonly requests: string | number
  readonly input_tokens: string | number
  readonly output_tokens: string | number
}

export const make = (options: Options): Ledger.Ledger => {
  const { sql, timeoutMs } = options

  const bounded = <A, E>(what: string, effect: Effect.Effect<A, E>): Effect.Effect<A, Ledger.LedgerUnavailable> =>
    effect.pipe(
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () => new Ledger.LedgerUnavailable({ reason: `${what}: no answer within ${timeoutMs} ms` }),
      }),
      Effect.mapError((e) =>
        e instanceof Ledger.LedgerUnavailable
          ? e
          : new Ledger.LedgerUnavailable({
              reason: `${what}: ${String((e as { message?: string }).message ?? e).slice(0, 200)}`,
            }),
      ),
    )

  /** Add `amounts` to every period's current row (created at zero when missing). */
  const add = (id: string, amounts: Ledger.Counters, now: number) => {
    const rows = Periods.all.map((p) => ({
      key_id: id,
      period: p,
      period_key: Periods.key(p, now),
      nano_usd: Math.round(amounts.nanoUsd),
      requests: amounts.requests,
      input_tokens: amounts.inputTokens,
      output_tokens: amounts.outputTokens,
    }))
    return sql`INSERT INTO sluice_spend ${sql.insert(rows)}
      ON CONFLICT (key_id, period, period_key) DO UPDATE SET
        nano_usd = sluice_spend.nano_usd + EXCLUDED.nano_usd,
        requests = sluice_spend.requests + EXCLUDED.requests,
        input_tokens = sluice_spend.input_tokens + EXCLUDED.input_tokens,
        output_tokens = sluice_spend.output_tokens + EXCLUDED.output_tokens`
  }

  const spentIn = (id: string, period: Period, now: number, lock: boolean) =>
    Effect.map(
      lock
        ? sql<{ nano_usd: string | number }>`SELECT nano_usd FROM sluice_spend
            WHERE key_id = ${id} AND period = ${period} AND period_key = ${Periods.key(period, now)} FOR UPDATE`
        : sql<{ nano_usd: string | number }>`SELECT nano_usd FROM sluice_spend
            WHERE key_id = ${id} AND period = ${period} AND period_key = ${Periods.key(period, now)}`,
      (rows) => (rows[0] === undefined ? 0 : Number(rows[0].nano_usd)),
    )

  return {
    spent: (id, period, now) => bounded("spend read", spentIn(id, period, now, false)),
    reserve: (id, period, limit, amount, now) =>
      bounded(
        "spend reservation",
        sql.withTransaction(
          Effect.gen(function* () {
            // The row must exist to be locked; concurrent reservations then queue on it.
            yield* sql`INSERT INTO sluice_spend (key_id, period, period_key)
              VALUES (${id}, ${period}, ${Periods.key(period, now)}) ON CONFLICT DO NOTHING`
            const spent = yield* spentIn(id, period, now, true)
            if (spent >= limit || spent + amount > limit) return { ok: false, spent }
            yield* add(id, { ...Ledger.zero, nanoUsd: amount }, now)
            return { ok: true, spent: spent + amount }
          }),
        ),
      ),
    record: (id, amounts, now) => bounded("spend record", Effect.asVoid(add(id, amounts, now))),
    usage: (id, now) =>
      bounded(
        "usage read",
        Effect.map(
          sql<Row>`SELECT period, period_key, nano_usd, requests, input_tokens, output_tokens
            FROM sluice_spend WHERE key_id = ${id}
            AND period_key IN ${sql.in(Periods.all.map((p) => Periods.key(p, now)))}`,
          (rows) => {
            const out: Record<string, Ledger.Counters> = {}
            for (const p of Periods.all) out[p] = Ledger.zero
            for (const r of rows)
              if (r.period_key === Periods.key(r.period as Period, now))
                out[r.period] = {
                  nanoUsd: Number(r.nano_usd),
                  requests: Number(r.requests),
                  inputTokens: Number(r.input_tokens),
                  outputTokens: Number(r.output_tokens),
                }
            return out as Readonly<Record<Period, Ledger.Counters>>
          },
        ),
      ),
  }
}
