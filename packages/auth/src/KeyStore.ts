/**
 * Where virtual keys live. A store finds a key by the SHA-256 of what the client presented
 * (verified in constant time) and, when it is writable, lets the admin API create, update,
 * rotate and revoke keys. Store failures are `StoreUnavailable`: auth then fails closed.
 */
import { Data, Effect } from "effect"
import { equalHashes } from "./Hash.ts"
import type { KeyRecord } from "./KeyRecord.ts"

export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{ readonly reason: string }> {}

export interface KeyStore {
  /** The live (not revoked) key whose hash equals `hash`, if any. */
  readonly findByHash: (hash: string) => Effect.Effect<KeyRecord | undefined, StoreUnavailable>
  readonly get: (id: string) => Effect.Effect<KeyRecord | undefined, StoreUnavailable>
  readonly list: Effect.Effect<ReadonlyArray<KeyRecord>, StoreUnavailable>
  /** Writes (absent for read-only sources such as the config file). */
  readonly writable?: WritableStore | undefined
}

export interface WritableStore {
  /** Store a record; `previousHash` is the hash it replaces (rotation), which stops verifying. */
  readonly put: (record: KeyRecord, previousHash?: string) => Effect.Effect<void, StoreUnavailable>
}

/** Scan every record comparing hashes in constant time, without stopping early. */
export const scan = (records: Iterable<KeyRecord>, hash: string): KeyRecord | undefined => {
  let found: KeyRecord | undefined
  for (const r of records) {
    if (equalHashes(r.keyHash, hash) && r.revokedAt === undefined && found === undefined) found = r
  }
  return found
}

/** A fixed set of keys (the config file's `keys:`). */
export const fromRecords = (records: ReadonlyArray<KeyRecord>): KeyStore => ({
  findByHash: (hash) => Effect.sync(() => scan(records, hash)),
  get: (id) => Effect.sync(() => records.find((r) => r.id === id)),
  list: Effect.succeed(records),
})

/** An in-process writable store: keys created through the admin API of this one instance. */
export const memory = (initial: ReadonlyArray<KeyRecord> = []): KeyStore => {
  const byId = new Map(initial.map((r) => [r.id, r]))
  return {
    findByHash: (hash) => Effect.sync(() => scan(byId.values(), hash)),
    get: (id) => Effect.sync(() => byId.get(id)),
    list: Effect.sync(() => [...byId.values()]),
    writable: {
      put: (record) =>
        Effect.sync(() => {
          byId.set(record.id, record)
        }),
    },
  }
}

/**
 * Config keys first (they cannot be changed at run time), then the writable store. Ids must not
 * collide: the plugin checks config ids, and the admin API never reuses one.
 */
export const layered = (config: KeyStore, store: KeyStore | undefined): KeyStore =>
  store === undefined
    ? config
    : {
        findByHash: (hash) =>
          Effect.flatMap(config.findByHash(hash), (r) =>
            r !== undefined ? Effect.succeed(r) : store.findByHash(hash),
          ),
        get: (id) => Effect.flatMap(config.get(id), (r) => (r !== undefined ? Effect.succeed(r) : store.get(id))),
        list: Effect.zipWith(config.list, store.list, (a, b) => [...a, ...b]),
        writable: store.writable,
      }
