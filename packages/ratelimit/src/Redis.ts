/**
 * (Same helper as @sluice/auth's; the packages do not depend on each other.)
 * One ioredis connection for the gateway's lifetime, set up so a Redis outage never holds a
 * request: commands fail at once while disconnected (no offline queue), reconnection is
 * automatic and quick, and callers put their own timeout on every command.
 */
import { Effect, type Scope } from "effect"
import { Redis } from "ioredis"

export interface RedisOptions {
  readonly url: string
  /** Queue commands while connecting (only for the pub/sub subscriber, which must not lose its SUBSCRIBE). */
  readonly offlineQueue?: boolean
}

/** The url without credentials, safe to print. */
export const describe = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.hostname}:${u.port || "6379"}`
  } catch {
    return "redis"
  }
}

export const connect = (options: RedisOptions): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const redis = new Redis(options.url, {
        enableOfflineQueue: options.offlineQueue ?? false,
        maxRetriesPerRequest: options.offlineQueue ? null : 0,
        connectTimeout: 2_000,
        retryStrategy: (times) => Math.min(times * 100, 1_000),
      })
      // Without a listener ioredis prints every failed reconnect; the callers report outages.
      redis.on("error", () => {})
      return redis
    }),
    (redis) => Effect.sync(() => redis.disconnect()),
  )

/** Wait (bounded) until the connection is ready, so the first requests do not meet a cold client. */
export const awaitReady = (redis: Redis, timeoutMs: number): Effect.Effect<boolean> =>
  redis.status === "ready"
    ? Effect.succeed(true)
    : Effect.async<boolean>((resume) => {
        const done = (ok: boolean) => {
          clearTimeout(timer)
          redis.off("ready", onReady)
          resume(Effect.succeed(ok))
        }
        const onReady = () => done(true)
        const timer = setTimeout(() => done(false), timeoutMs)
        redis.on("ready", onReady)
        return Effect.sync(() => {
          clearTimeout(timer)
          redis.off("ready", onReady)
        })
      })
