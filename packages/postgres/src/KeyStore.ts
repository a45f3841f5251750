/**
 * Virtual keys in Postgres, for a fleet of gateways on one database. Each instance caches
 * verified keys in memory and empties that cache whenever any instance announces a change
 * (create, update, rotate, revoke) with NOTIFY — so a revocation takes effect everywhere at once.
 * The cache is used only while this instance's LISTEN is proven to work (a probe it sent came
 * back); otherwise every lookup asks the database. Database errors make auth fail closed.
 */
import { randomUUID } from "node:crypto"
import type { PgClient } from "@effect/sql-pg"
import { KeyRecord, KeyStore } from "@sluice/auth"
import { Duration, Effect, Either, Schedule, Schema, type Scope, Stream } from "effect"

export const channel = "sluice_keys"

export interface Options {
  readonly sql: PgClient.PgClient
  /** How long a verified key is trusted from memory without a change notice. */
  readonly cacheTtlMs: number
  /** Bound on every query. */
  readonly timeoutMs: number
}

const decodeRecord = Schema.decodeUnknownEither(KeyRecord.KeyRecord)
const encodeRecord = Schema.encodeSync(KeyRecord.KeyRecord)

interface CacheEntry {
  readonly record: KeyRecord.KeyRecord | undefined
  readonly expires: number
}

const maxCacheEntries = 10_000
/** Unknown hashes are remembered briefly, so a flood of bad keys does not become a flood of queries. */
const negativeTtlMs = 2_000

const recordOf = (row: { readonly record: unknown }): KeyRecord.KeyRecord | undefined => {
  const value = typeof row.record === "string" ? JSON.parse(row.record) : row.record
  return Either.getOrUndefined(decodeRecord(value))
}

export const make = (options: Options): Effect.Effect<KeyStore.KeyStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { sql } = options
    const cache = new Map<string, CacheEntry>()
    // Bumped on every notice: a lookup that raced one must not cache what it read.
    let generation = 0
    let listening = false
    const probes = new Map<string, () => void>()
    // pg_notify, not the client's notify(): NOTIFY takes no bind parameters, so sql-pg's
    // `NOTIFY channel, $1` fails on every call.
    const notify = (payload: string) => sql`SELECT pg_notify(${channel}, ${payload})`

    const onNotice = (payload: string) => {
      generation++
      cache.clear()
      const probe = probes.get(payload)
      if (probe !== undefined) probe()
    }

    // LISTEN on its own connection; re-established after any failure, the cache off meanwhile.
    yield* Stream.runForEach(sql.listen(channel), (payload) => Effect.sync(() => onNotice(payload))).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          listening = false
          cache.clear()
        }),
      ),
      Effect.retry(Schedule.spaced("500 millis")),
      Effect.forkScoped,
    )
    // Prove the subscription with a probe that must come back through it.
    yield* Effect.gen(function* () {
      if (listening) return
      const id = `probe:${randomUUID()}`
      const heard = yield* Effect.async<void>((resume) => {
        probes.set(id, () => resume(Effect.void))
        return Effect.sync(() => probes.delete(id))
      }).pipe(
        Effect.zipLeft(notify(id).pipe(Effect.ignore), { concurrent: true }),
        Effect.timeout(Duration.seconds(1)),
        Effect.option,
      )
      probes.delete(id)
      if (heard._tag === "Some") listening = true
    }).pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)

    const bounded = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
      effect.pipe(
        Effect.timeoutFail({
          duration: Duration.millis(options.timeoutMs),
          onTimeout: () => new KeyStore.StoreUnavailable({ reason: `Postgres ${what} timed out` }),
        }),
        Effect.mapError((e) =>
          e instanceof KeyStore.StoreUnavailable
            ? e
            : new KeyStore.StoreUnavailable({ reason: `Postgres ${what} failed` }),
        ),
      )

    const findByHash = (hash: string) =>
      Effect.gen(function* () {
        const now = Date.now()
        const hit = listening ? cache.get(hash) : undefined
        if (hit !== undefined && hit.expires > now) return hit.record
        const seen = generation
        const rows = yield* bounded(
          "lookup",
          sql<{ record: unknown }>`SELECT record FROM sluice_keys WHERE key_hash = ${hash}`,
        )
        const record = rows[0] === undefined ? undefined : recordOf(rows[0])
        const live = record !== undefined && record.revokedAt === undefined ? record : undefined
        if (listening && seen === generation) {
          if (cache.size >= maxCacheEntries) cache.clear()
          cache.set(hash, { record: live, expires: now + (live === undefined ? negativeTtlMs : options.cacheTtlMs) })
        }
        return live
      })

    return {
      findByHash,
      get: (id) =>
        bounded("read", sql<{ record: unknown }>`SELECT record FROM sluice_keys WHERE id = ${id}`).pipe(
          Effect.map((rows) => (rows[0] === undefined ? undefined : recordOf(rows[0]))),
        ),
      list: bounded("list", sql<{ record: unknown }>`SELECT record FROM sluice_keys ORDER BY created_at, id`).pipe(
        Effect.map((rows) => rows.flatMap((r) => recordOf(r) ?? [])),
      ),
      writable: {
        put: (record) =>
          Effect.gen(function* () {
            const json = JSON.stringify(encodeRecord(record))
            yield* bounded(
              "write",
              sql`INSERT INTO sluice_keys (id, key_hash, record) VALUES (${record.id}, ${record.keyHash}, ${json}::jsonb)
                  ON CONFLICT (id) DO UPDATE SET key_hash = excluded.key_hash, record = excluded.record, updated_at = now()`,
            )
            // Local cache first, then every other instance.
            generation++
            cache.clear()
            yield* bounded("notify", notify(record.id))
          }),
      },
    }
  })
