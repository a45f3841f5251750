/**
 * The gateway's Redis clients, set up so a Redis outage never holds a request: commands fail at
 * once while disconnected (no offline queue), reconnection is automatic and quick, and callers
 * put their own timeout on every command.
 *
 * A process holds ONE command connection and at most ONE subscriber, shared by every store that
 * uses Redis (keys, limits, budgets, …): `RedisClient` and `RedisSubscriber` are services whose
 * layers are memoized per `redis:` url and client name, so they also outlive config reloads.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { Redis } from "ioredis"
import { Config, Services } from "@sluice/core"
import { RedisSection } from "./ConfigKeys.ts"

export interface RedisOptions {
  readonly url: string
  /** Queue commands while connecting (only for the pub/sub subscriber, which must not lose its SUBSCRIBE). */
  readonly offlineQueue?: boolean
  /** Shown by `CLIENT LIST` (no spaces). */
  readonly name?: string | undefined
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
    // ioredis is loaded only by a config that uses Redis; through `default` (module.exports)
    // because, bundled, a CommonJS module has no named exports.
    Effect.promise(async () => {
      const { default: ioredis } = await import("ioredis")
      const redis = new ioredis.Redis(options.url, {
        ...(options.name === undefined ? {} : { connectionName: options.name }),
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

export type RedisSettings = typeof RedisSection.Type

/** The `redis:` section, decoded (path-named errors); undefined when the config has none. */
export const settingsOf = (
  config: Config.GatewayConfig,
): Effect.Effect<RedisSettings | undefined, Config.ConfigError> =>
  config.redis === undefined ? Effect.succeed(undefined) : Config.decodeSection(RedisSection, config.redis, "redis")

/** The process's Redis command connection. */
export class RedisClient extends Context.Tag("@sluice/auth/RedisClient")<RedisClient, Redis>() {
  static readonly make = (settings: RedisSettings): Effect.Effect<Redis, never, Scope.Scope> =>
    Effect.tap(connect({ url: settings.url, name: settings.clientName }), (redis) =>
      Effect.flatMap(awaitReady(redis, 2_000), (ready) =>
        ready ? Effect.void : Effect.logWarning(`redis: ${describe(settings.url)} is not reachable yet`),
      ),
    )
  static readonly layer = (settings: RedisSettings): Layer.Layer<RedisClient> =>
    Layer.scoped(RedisClient, RedisClient.make(settings))
  /** One per url and client name for the gateway's life (kept across reloads). */
  static readonly layerConfig = (settings: RedisSettings): Layer.Layer<RedisClient> =>
    Services.stable("redis", { url: settings.url, clientName: settings.clientName }, () => RedisClient.layer(settings))
}

/** The process's one pub/sub connection (a subscribed connection can send nothing else). */
export class RedisSubscriber extends Context.Tag("@sluice/auth/RedisSubscriber")<RedisSubscriber, Redis>() {
  static readonly make = (settings: RedisSettings): Effect.Effect<Redis, never, Scope.Scope> =>
    // Connected before the first SUBSCRIBE (a queued one can be lost to the ready check's reconnect).
    Effect.tap(connect({ url: settings.url, offlineQueue: true, name: `${settings.clientName}:sub` }), (sub) =>
      awaitReady(sub, 2_000),
    )
  static readonly layer = (settings: RedisSettings): Layer.Layer<RedisSubscriber> =>
    Layer.scoped(RedisSubscriber, RedisSubscriber.make(settings))
  static readonly layerConfig = (settings: RedisSettings): Layer.Layer<RedisSubscriber> =>
    Services.stable("redis.subscriber", { url: settings.url, clientName: settings.clientName }, () =>
      RedisSubscriber.layer(settings),
    )
}
