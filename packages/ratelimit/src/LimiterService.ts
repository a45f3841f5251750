/**
 * The limiter store as a long-lived service: token buckets survive config reloads while the
 * store's own settings (`rateLimit.store`, `rateLimit.timeout`, the `redis:` url and prefix) are
 * unchanged — changing a limit does not refill anyone's bucket. The Redis store uses the
 * process's one shared command connection.
 */
import { Context, Effect, Layer } from "effect"
import { Config, Services } from "@sluice/core"
import { Redis } from "@sluice/auth"
import type { LimiterStore } from "./Limiter.ts"
import * as MemoryLimiter from "./MemoryLimiter.ts"
import * as RedisLimiter from "./RedisLimiter.ts"
import { StoreKind } from "./StoreKind.ts"
import { Schema } from "effect"

/** The part of `rateLimit:` that decides the store (the rest is per-config middleware settings). */
export const StoreSettings = Schema.Struct(
  {
    store: Schema.optionalWith(StoreKind, { default: () => "memory" as const }),
    timeout: Schema.optionalWith(Config.Duration, { default: () => 250 }),
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

export class Limiter extends Context.Tag("@sluice/ratelimit/Limiter")<Limiter, LimiterStore>() {
  /** Buckets in this process's memory, timed by Effect's Clock (TestClock in tests). */
  static readonly memory: Layer.Layer<Limiter> = Layer.effect(
    Limiter,
    Effect.map(Effect.clock, (clock) => MemoryLimiter.make(() => clock.unsafeCurrentTimeMillis())),
  )

  /** Buckets in Redis, shared by a fleet, on the shared RedisClient. */
  static readonly redis = (options: { readonly prefix: string; readonly timeoutMs: number }) =>
    Layer.effect(
      Limiter,
      Effect.map(Redis.RedisClient, (redis) => RedisLimiter.make({ ...options, redis })),
    )

  static readonly layerConfig = (config: Config.GatewayConfig): Layer.Layer<Limiter, Config.ConfigError> =>
    Layer.unwrapEffect(
      Effect.gen(function* () {
        const section = yield* Config.decodeSection(StoreSettings, config.rateLimit ?? {}, "rateLimit")
        if (section.store === "memory")
          return Services.stable("ratelimit.store", { store: "memory" }, () => Limiter.memory)
        const redis = yield* Redis.settingsOf(config)
        if (redis === undefined)
          return yield* Effect.fail(
            new Config.ConfigError({
              issues: [{ path: "rateLimit.store", message: "the redis store needs a redis: { url } section" }],
            }),
          )
        const options = { prefix: redis.prefix, timeoutMs: section.timeout }
        return Services.stable(
          "ratelimit.store",
          { store: "redis", url: redis.url, name: redis.clientName, ...options },
          () => Limiter.redis(options).pipe(Layer.provide(Redis.RedisClient.layerConfig(redis))),
        )
      }),
    )
}
