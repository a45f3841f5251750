/**
 * The spend ledger as a long-lived service: spend survives config reloads while the ledger's own
 * settings (`budgets.store`, `budgets.timeout`, the `redis:` url and prefix) are unchanged. The
 * Redis ledger uses the process's one shared command connection.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Config, Services } from "@sluice/core"
import { Redis } from "@sluice/auth"
import * as LedgerM from "./Ledger.ts"
import * as RedisLedger from "./RedisLedger.ts"
import { StoreKind } from "./StoreKind.ts"

/** The part of `budgets:` that decides the ledger. */
export const StoreSettings = Schema.Struct(
  {
    store: Schema.optionalWith(StoreKind, { default: () => "memory" as const }),
    timeout: Schema.optionalWith(Config.Duration, { default: () => 250 }),
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

export class Ledger extends Context.Tag("@sluice/ratelimit/Ledger")<Ledger, LedgerM.Ledger>() {
  static readonly memory: Layer.Layer<Ledger> = Layer.sync(Ledger, () => LedgerM.memory())

  static readonly redis = (options: { readonly prefix: string; readonly timeoutMs: number }) =>
    Layer.effect(
      Ledger,
      Effect.map(Redis.RedisClient, (redis) => RedisLedger.make({ ...options, redis })),
    )

  static readonly layerConfig = (config: Config.GatewayConfig): Layer.Layer<Ledger, Config.ConfigError> =>
    Layer.unwrapEffect(
      Effect.gen(function* () {
        const section = yield* Config.decodeSection(StoreSettings, config.budgets ?? {}, "budgets")
        if (section.store === "memory")
          return Services.stable("budgets.ledger", { store: "memory" }, () => Ledger.memory)
        const redis = yield* Redis.settingsOf(config)
        if (redis === undefined)
          return yield* Effect.fail(
            new Config.ConfigError({
              issues: [{ path: "budgets.store", message: "the redis store needs a redis: { url } section" }],
            }),
          )
        const options = { prefix: redis.prefix, timeoutMs: section.timeout }
        return Services.stable(
          "budgets.ledger",
          { store: "redis", url: redis.url, name: redis.clientName, ...options },
          () => Ledger.redis(options).pipe(Layer.provide(Redis.RedisClient.layerConfig(redis))),
        )
      }),
    )
}
