/**
 * The writable key store behind the admin API as a long-lived service: keys created through the
 * admin API live here, so they survive config reloads (memory store included) while the store's
 * own settings (`auth.store`, `auth.cacheTtl`, `auth.timeout`, the `redis:` url) are unchanged.
 * The Redis store shares the process's one command connection and one subscriber.
 */
import { Context, Effect, Layer, Option } from "effect"
import { Config, Services } from "@sluice/core"
import { AuthSection } from "./ConfigKeys.ts"
import * as KeyStore from "./KeyStore.ts"
import * as RedisConn from "./Redis.ts"
import * as RedisKeyStore from "./RedisKeyStore.ts"

export class KeyStoreService extends Context.Tag("@sluice/auth/KeyStoreService")<KeyStoreService, KeyStore.KeyStore>() {
  /** Keys made through this process's admin API, in its memory. */
  static readonly memory: Layer.Layer<KeyStoreService> = Layer.sync(KeyStoreService, () => KeyStore.memory())

  /** Keys in Redis for a fleet, on the shared RedisClient and RedisSubscriber. */
  static readonly redis = (options: {
    readonly prefix: string
    readonly cacheTtlMs: number
    readonly timeoutMs: number
  }): Layer.Layer<KeyStoreService, never, RedisConn.RedisClient | RedisConn.RedisSubscriber> =>
    Layer.scoped(
      KeyStoreService,
      Effect.gen(function* () {
        const redis = yield* RedisConn.RedisClient
        const subscriber = yield* RedisConn.RedisSubscriber
        return yield* RedisKeyStore.make({ ...options, redis, subscriber })
      }),
    )

  /** From the config: none when auth is off; kept across reloads while its settings are unchanged. */
  static readonly layerConfig = (config: Config.GatewayConfig): Layer.Layer<KeyStoreService, Config.ConfigError> =>
    Layer.unwrapEffect(
      Effect.gen(function* () {
        const auth = yield* Config.decodeSection(AuthSection, config.auth ?? {}, "auth")
        if (auth.store === "memory")
          return Services.stable("auth.store", { store: "memory" }, () => KeyStoreService.memory)
        // Another package's store (postgres) is built by the plugin that brings it.
        if (auth.store !== "redis") return Layer.empty as Layer.Layer<KeyStoreService>
        const redis = yield* RedisConn.settingsOf(config)
        if (redis === undefined)
          return yield* Effect.fail(
            new Config.ConfigError({
              issues: [{ path: "auth.store", message: "the redis store needs a redis: { url } section" }],
            }),
          )
        const options = { prefix: redis.prefix, cacheTtlMs: auth.cacheTtl, timeoutMs: auth.timeout }
        return Services.stable(
          "auth.store",
          { store: "redis", url: redis.url, name: redis.clientName, ...options },
          () =>
            KeyStoreService.redis(options).pipe(
              Layer.provide(
                Layer.merge(RedisConn.RedisClient.layerConfig(redis), RedisConn.RedisSubscriber.layerConfig(redis)),
              ),
              Layer.tap(() => Effect.logInfo(`auth: keys in Redis at ${RedisConn.describe(redis.url)}`)),
            ),
        )
      }),
    )

  /** The service when the gateway's layer has one. */
  static readonly option = Effect.map(Effect.serviceOption(KeyStoreService), Option.getOrUndefined)
}
