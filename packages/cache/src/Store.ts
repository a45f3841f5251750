/**
 * Where cached answers live: an in-process LRU (the default) or Redis (shared by a fleet).
 * Values are the serialized entry; a store failure is a miss, never a failed request.
 */
import { Effect } from "effect"
import { LRUCache } from "lru-cache"

export interface CacheStore {
  readonly kind: "memory" | "redis"
  /** The serialized entry, or undefined when absent, expired or the store is unreachable. */
  readonly get: (key: string) => Effect.Effect<string | undefined>
  readonly set: (key: string, value: string, ttlMs: number) => Effect.Effect<void>
}

export interface MemoryOptions {
  readonly maxEntries: number
  /** Upper bound on the sum of entry sizes (UTF-16 code units, close enough to bytes for JSON). */
  readonly maxBytes: number
}

export const memory = (options: MemoryOptions): CacheStore => {
  const lru = new LRUCache<string, string>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    sizeCalculation: (v) => Math.max(1, v.length),
  })
  return {
    kind: "memory",
    get: (key) => Effect.sync(() => lru.get(key)),
    set: (key, value, ttlMs) =>
      Effect.sync(() => {
        if (value.length <= options.maxBytes) lru.set(key, value, { ttl: ttlMs })
      }),
  }
}
