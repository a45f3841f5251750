/**
 * Responses in this process's memory: bounded by total size (least recently used go first) and
 * by a time to live that starts over whenever a response is read. Lost on restart and not
 * shared: a fleet uses the Redis store.
 */
import { Effect } from "effect"
import { LRUCache } from "lru-cache"
import { itemIds, type ResponseStore, type StoredResponse } from "./ResponseStore.ts"

export interface MemoryOptions {
  readonly ttlMs: number
  /** Upper bound of the stored responses' JSON size, in bytes. */
  readonly maxBytes: number
  /** Clock in ms (tests); defaults to `performance.now`. */
  readonly now?: () => number
}

export const make = (options: MemoryOptions): ResponseStore => {
  // A given clock is read at every check (lru-cache otherwise caches "now" for a timer tick).
  const perf = options.now === undefined ? undefined : { now: options.now }
  const clock = perf === undefined ? {} : { perf, ttlResolution: 0 }
  const responses = new LRUCache<string, StoredResponse>({
    maxSize: options.maxBytes,
    // UTF-16 length of the JSON: a fair measure of what the object holds.
    sizeCalculation: (stored) => Math.max(1, JSON.stringify(stored).length),
    ttl: options.ttlMs,
    updateAgeOnGet: true,
    ...clock,
  })
  // Item id → response id. Bounded on its own; a stale entry (its response gone) finds nothing.
  // Counted by maxSize, not max: with max, lru-cache allocates all 250k slots up front (~10 MB).
  const items = new LRUCache<string, string>({
    maxSize: 250_000,
    sizeCalculation: () => 1,
    ttl: options.ttlMs,
    updateAgeOnGet: true,
    ...clock,
  })
  const key = (scope: string, id: string) => `${scope}:${id}`
  return {
    get: (scope, id) => Effect.sync(() => responses.get(key(scope, id))),
    findItem: (scope, itemId) =>
      Effect.sync(() => {
        const id = items.get(key(scope, itemId))
        return id === undefined ? undefined : responses.get(key(scope, id))
      }),
    put: (scope, stored) =>
      Effect.sync(() => {
        responses.set(key(scope, stored.response.id), stored)
        for (const itemId of itemIds(stored)) items.set(key(scope, itemId), stored.response.id)
      }),
    delete: (scope, id) => Effect.sync(() => responses.delete(key(scope, id))),
  }
}
