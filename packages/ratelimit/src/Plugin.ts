/**
 * `ratelimit` for the YAML-driven gateway (section `rateLimit:`). It is on when the section is
 * present or when virtual keys are (`keys:`, `auth:`, `admin:`), since keys carry their own
 * limits. Redis needs a `redis: { url }` section; an unreachable Redis at start is not fatal —
 * the fail mode applies until it answers.
 */
import { Effect, Schema } from "effect"
import { Config, type Middleware } from "@sluice/core"
import { ConfigKeys, Redis } from "@sluice/auth"
import * as MemoryLimiter from "./MemoryLimiter.ts"
import * as RateLimit from "./RateLimit.ts"
import * as RedisLimiter from "./RedisLimiter.ts"
import { StoreKind } from "./StoreKind.ts"
import * as Tokens from "./Tokens.ts"

export const Section = Schema.Struct({
  ...RateLimit.Settings.fields,
  store: Schema.optionalWith(StoreKind, { default: () => "memory" as const }),
  /** Bound on each store call: past it the fail mode decides. */
  timeout: Schema.optionalWith(Config.Duration, { default: () => 250 }),
})

export const plugin: Middleware.Plugin = {
  name: "ratelimit",
  fromConfig: (config) =>
    Effect.gen(function* () {
      const keyed = config.keys !== undefined || config.auth !== undefined || config.admin !== undefined
      if (config.rateLimit === undefined && !keyed) return undefined
      const section = yield* Config.decodeSection(Section, config.rateLimit ?? {}, "rateLimit")
      if (section.store === "redis" && config.redis === undefined) {
        return yield* Effect.fail(
          new Config.ConfigError({
            issues: [{ path: "rateLimit.store", message: "the redis store needs a redis: { url } section" }],
          }),
        )
      }
      let store = MemoryLimiter.make()
      if (section.store === "redis") {
        const redis = yield* Config.decodeSection(ConfigKeys.RedisSection, config.redis, "redis")
        const connection = yield* Redis.connect({ url: redis.url })
        if (!(yield* Redis.awaitReady(connection, 2_000)))
          yield* Effect.logWarning(
            `ratelimit: Redis at ${Redis.describe(redis.url)} is not reachable yet; failing ${section.failMode} until it is`,
          )
        store = RedisLimiter.make({ redis: connection, prefix: redis.prefix, timeoutMs: section.timeout })
      }
      // Loaded before the gateway listens: building the BPE tables takes the event loop for a
      // second or more, which must not happen while requests (and Redis timeouts) are in flight.
      const estimator = yield* Tokens.loaded
      const { store: _kind, timeout: _timeout, ...settings } = section
      return { middleware: RateLimit.make({ store }, settings, estimator) }
    }),
}
