/**
 * The `responses:` section: where the Responses API keeps responses for `previous_response_id`,
 * `item_reference` and `GET`/`DELETE /v1/responses/{id}`.
 *
 *   responses: { store: memory, ttl: 30d, maxSize: 64mb }     # the default, one instance
 *   responses: { store: redis, ttl: 30d, timeout: 1s }        # shared by a fleet; needs redis: { url }
 *   responses: { store: none }                                # keep nothing
 */
import { Context, Effect, Layer, Schema, type Scope } from "effect"
import { Config, Services } from "@sluice/core"
import { ConfigKeys, Redis } from "@sluice/auth"
import * as MemoryResponseStore from "./MemoryResponseStore.ts"
import * as RedisResponseStore from "./RedisResponseStore.ts"
import type { ResponseStore } from "./ResponseStore.ts"

export const Section = Schema.Struct({
  store: Schema.optionalWith(Schema.Literal("memory", "redis", "none"), { default: () => "memory" as const }),
  /** How long a response is kept after it was created or last read (OpenAI keeps 30 days). */
  ttl: Schema.optionalWith(Config.Duration, { default: () => 30 * 86_400_000 }),
  /** memory: the most the stored responses may take; the least recently used go first. */
  maxSize: Schema.optionalWith(Config.ByteSize, { default: () => 64 * 1024 * 1024 }),
  /** redis: the longest a store command may take before the request is answered 503. */
  timeout: Schema.optionalWith(Config.Duration, { default: () => 1_000 }),
})
export type Section = typeof Section.Type

/** The store the config asks for, or undefined for `store: none`. */
export const fromConfig = (
  config: Config.GatewayConfig,
): Effect.Effect<ResponseStore | undefined, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const section = yield* Config.decodeSection(Section, config.responses ?? {}, "responses")
    if (section.ttl <= 0)
      return yield* Effect.fail(
        new Config.ConfigError({ issues: [{ path: "responses.ttl", message: "must be more than 0" }] }),
      )
    switch (section.store) {
      case "none":
        return undefined
      case "memory":
        return MemoryResponseStore.make({ ttlMs: section.ttl, maxBytes: section.maxSize })
      case "redis": {
        if (config.redis === undefined)
          return yield* Effect.fail(
            new Config.ConfigError({
              issues: [{ path: "responses.store", message: "the redis store needs a redis: { url } section" }],
            }),
          )
        const redis = yield* Config.decodeSection(ConfigKeys.RedisSection, config.redis, "redis")
        const connection = yield* Redis.connect({ url: redis.url })
        if (!(yield* Redis.awaitReady(connection, 2_000)))
          yield* Effect.logWarning(
            `responses: Redis at ${Redis.describe(redis.url)} is not reachable yet; Responses requests that need the store get 503 until it is`,
          )
        return RedisResponseStore.make({
          redis: connection,
          prefix: redis.prefix,
          ttlMs: section.ttl,
          timeoutMs: section.timeout,
        })
      }
    }
  })

/**
 * The store as a long-lived service: stored responses outlive config reloads while `responses:`
 * (and, for Redis, the `redis:` url and prefix) are unchanged. The Redis store uses the process's
 * one shared command connection.
 */
export class Store extends Context.Tag("@sluice/openai/ResponseStore")<Store, ResponseStore | undefined>() {
  static readonly layerConfig = (config: Config.GatewayConfig): Layer.Layer<Store, Config.ConfigError> =>
    Layer.unwrapEffect(
      Effect.gen(function* () {
        const section = yield* Config.decodeSection(Section, config.responses ?? {}, "responses")
        if (section.store !== "redis")
          return Services.stable("responses.store", section, () => Layer.scoped(Store, fromConfig(config)))
        const redis = yield* Redis.settingsOf(config)
        if (redis === undefined) return Layer.scoped(Store, fromConfig(config)) // fails naming responses.store
        return Services.stable(
          "responses.store",
          { ...section, url: redis.url, prefix: redis.prefix, name: redis.clientName },
          () =>
            Layer.effect(
              Store,
              Effect.map(Redis.RedisClient, (connection) =>
                RedisResponseStore.make({
                  redis: connection,
                  prefix: redis.prefix,
                  ttlMs: section.ttl,
                  timeoutMs: section.timeout,
                }),
              ),
            ).pipe(Layer.provide(Redis.RedisClient.layerConfig(redis))),
        )
      }),
    )
}
