/**
 * `cache` for the YAML-driven gateway, on when the config has a `cache:` section. The `redis`
 * store shares the `redis:` connection settings with auth and budgets.
 */
import { Effect, Schema } from "effect"
import { Config, type Middleware, Router } from "@sluice/core"
import { ConfigKeys, Redis } from "@sluice/auth"
import * as CacheMiddleware from "./Middleware.ts"
import * as RedisStore from "./RedisStore.ts"
import * as Store from "./Store.ts"

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())

export const Section = Schema.Struct({
  /** Model id patterns (`*` wildcards) whose answers are cached: opt-in, nothing by default. */
  models: Schema.Array(Schema.NonEmptyTrimmedString),
  ttl: Schema.optionalWith(Config.Duration, { default: () => 3_600_000 }),
  /** `key`: each virtual key has its own entries; `namespace`: every caller shares `namespace`. */
  scope: Schema.optionalWith(Schema.Literal("key", "namespace"), { default: () => "key" as const }),
  namespace: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "shared" }),
  store: Schema.optionalWith(Schema.Literal("memory", "redis"), { default: () => "memory" as const }),
  /** Memory store bounds. */
  maxEntries: Schema.optionalWith(PositiveInt, { default: () => 10_000 }),
  maxSize: Schema.optionalWith(Config.ByteSize, { default: () => 64 * 1024 * 1024 }),
  /** Answers larger than this are not stored. */
  maxEntrySize: Schema.optionalWith(Config.ByteSize, { default: () => 1024 * 1024 }),
  coalesce: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  coalesceWait: Schema.optionalWith(Config.Duration, { default: () => 60_000 }),
  /** Per Redis command; past it the request is answered without the cache. */
  timeout: Schema.optionalWith(Config.Duration, { default: () => 250 }),
})
export type Section = typeof Section.Type

export const plugin: Middleware.Plugin = {
  name: "cache",
  fromConfig: (config) =>
    Effect.gen(function* () {
      if (config.cache === undefined) return undefined
      const section = yield* Config.decodeSection(Section, config.cache, "cache")
      let store: Store.CacheStore
      if (section.store === "redis") {
        if (config.redis === undefined)
          return yield* Effect.fail(
            new Config.ConfigError({
              issues: [{ path: "cache.store", message: "the redis store needs a redis: { url } section" }],
            }),
          )
        const redis = yield* Config.decodeSection(ConfigKeys.RedisSection, config.redis, "redis")
        const connection = yield* Redis.connect({ url: redis.url })
        if (!(yield* Redis.awaitReady(connection, 2_000)))
          yield* Effect.logWarning(`cache: Redis at ${Redis.describe(redis.url)} is not reachable yet`)
        store = RedisStore.make({ redis: connection, prefix: redis.prefix, timeoutMs: section.timeout })
      } else {
        store = Store.memory({ maxEntries: section.maxEntries, maxBytes: section.maxSize })
      }
      yield* Effect.logInfo(
        `cache: ${section.store} store, models ${section.models.join(", ") || "(none)"}, ttl ${section.ttl}ms, scope ${section.scope}`,
      )
      return {
        middleware: CacheMiddleware.make({
          store,
          router: Router.make(config),
          models: section.models,
          ttlMs: section.ttl,
          scope: section.scope === "key" ? { _tag: "key" } : { _tag: "namespace", name: section.namespace },
          coalesce: section.coalesce,
          coalesceWaitMs: section.coalesceWait,
          maxEntryBytes: section.maxEntrySize,
        }),
      }
    }),
}
