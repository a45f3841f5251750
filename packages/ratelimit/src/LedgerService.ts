/**
 * The spend ledger as a long-lived service: spend survives config reloads while the ledger's own
 * settings (`budgets.store`, `budgets.timeout`, the `redis:` url and prefix) are unchanged. The
 * Redis ledger uses the process's one shared command connection.
 */
import { Context, Effect, Layer, Schema, type Scope } from "effect"
import { Config, Services } from "@sluice/core"
import { Redis } from "@sluice/auth"
import * as LedgerM from "./Ledger.ts"
import * as RedisLedger from "./RedisLedger.ts"
import { StoreKind } from "./StoreKind.ts"

/** Where spend is kept: memory and Redis here; `postgres` when @sluice/postgres brings its ledger. */
export const LedgerStoreKind = Schema.Literal(...StoreKind.literals, "postgres")

/**
 * A ledger another package provides (`budgets.store: postgres` from @sluice/postgres), so the
 * budgets plugin does not depend on a database client.
 */
export interface ExternalLedger {
  readonly kind: "postgres"
  /** The config slice that decides this ledger: a change rebuilds it (spend itself is in the store). */
  readonly fingerprint: (config: Config.GatewayConfig) => unknown
  readonly make: (
    config: Config.GatewayConfig,
    options: { readonly timeoutMs: number },
  ) => Effect.Effect<LedgerM.Ledger, Config.ConfigError, Scope.Scope>
}

/** The part of `budgets:` that decides the ledger. */
export const StoreSettings = Schema.Struct(
  {
    store: Schema.optionalWith(LedgerStoreKind, { default: () => "memory" as const }),
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

  static readonly layerConfig = (
    config: Config.GatewayConfig,
    external: ReadonlyArray<ExternalLedger> = [],
  ): Layer.Layer<Ledger, Config.ConfigError> =>
    Layer.unwrapEffect(
      Effect.gen(function* () {
        const section = yield* Config.decodeSection(StoreSettings, config.budgets ?? {}, "budgets")
        if (section.store === "memory")
          return Services.stable("budgets.ledger", { store: "memory" }, () => Ledger.memory)
        if (section.store === "postgres") {
          const store = external.find((e) => e.kind === "postgres")
          if (store === undefined)
            return yield* Effect.fail(
              new Config.ConfigError({
                issues: [{ path: "budgets.store", message: "the postgres store needs the @sluice/postgres package" }],
              }),
            )
          const options = { timeoutMs: section.timeout }
          return Services.stable(
            "budgets.ledger",
            { store: "postgres", timeoutMs: section.timeout, of: store.fingerprint(config) },
            () => Layer.scoped(Ledger, store.make(config, options)),
          )
        }
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
