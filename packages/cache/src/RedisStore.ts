/**
 * The cache in Redis, so every instance of a fleet answers from what any of them stored.
 * Each command has its own timeout: a slow or absent Redis costs at most that, then it is a miss.
 */
import { Duration, Effect } from "effect"
import type { Redis } from "ioredis"
import type { CacheStore } from "./Store.ts"

export interface RedisStoreOptions {
  readonly redis: Redis
  /** The `redis:` section's prefix; entries go under `<prefix>cache:`. */
  readonly prefix: string
  readonly timeoutMs: number
}

export const make = (options: RedisStoreOptions): CacheStore => {
  const keyOf = (key: string) => `${options.prefix}cache:${key}`
  const bounded = <A>(what: string, run: () => Promise<A>) =>
    Effect.tryPromise(run).pipe(
      Effect.timeout(Duration.millis(options.timeoutMs)),
      Effect.tapError(() => Effect.logWarning(`cache: Redis ${what} failed or timed out; answering without the cache`)),
      Effect.option,
    )
  return {
    kind: "redis",
    get: (key) =>
      bounded("GET", () => options.redis.get(keyOf(key))).pipe(
        Effect.map((o) => (o._tag === "Some" && o.value !== null ? o.value : undefined)),
      ),
    set: (key, value, ttlMs) =>
      bounded("SET", () => options.redis.set(keyOf(key), value, "PX", Math.max(1, Math.round(ttlMs)))).pipe(
        Effect.asVoid,
      ),
  }
}
