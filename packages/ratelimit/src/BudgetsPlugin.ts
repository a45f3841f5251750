/**
 * `budgets` for the YAML-driven gateway (sections `budgets:` and `prices:`). On when either is
 * present; it then meters every verified key's spend and enforces the budgets keys carry.
 * With an `admin:` key it also serves `GET /admin/keys/{id}/usage`.
 */
import { Effect, Either, Layer, Schema } from "effect"
import { Config, type Middleware, Router } from "@sluice/core"
import { ConfigKeys, Hash } from "@sluice/auth"
import * as Budgets from "./Budgets.ts"
import { type ExternalLedger, Ledger, LedgerStoreKind } from "./LedgerService.ts"
import * as Policy from "./Policy.ts"
import * as Prices from "./Prices.ts"
import * as Tokens from "./Tokens.ts"
import * as UsageRoutes from "./UsageRoutes.ts"

export const Section = Schema.Struct({
  ...Budgets.Settings.fields,
  store: Schema.optionalWith(LedgerStoreKind, { default: () => "memory" as const }),
  timeout: Schema.optionalWith(Config.Duration, { default: () => 250 }),
})

/** Only the admin key; the `admin:` section is @sluice/auth's to validate in full. */
const AdminKey = Schema.Struct(
  { key: Schema.optional(Schema.String), keyHash: Schema.optional(Schema.String) },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

/** The other names a model goes by once routed: `provider/model` and the upstream id. */
export const aliasesOf = (config: Config.GatewayConfig): ((model: string) => ReadonlyArray<string>) => {
  const router = Router.make(config)
  return (model) => {
    const r = router.resolve(model)
    if (Either.isLeft(r)) return []
    return r.right.candidates.flatMap((c) => [
      c.id,
      ...c.deployments.flatMap((d) => [`${d.provider}/${d.model}`, d.model]),
    ])
  }
}

const enabled = (config: Config.GatewayConfig) => config.budgets !== undefined || config.prices !== undefined

/** The budgets plugin; `ledgers` are stores other packages provide (`budgets.store: postgres`). */
export const make = (
  options: { readonly ledgers?: ReadonlyArray<ExternalLedger> } = {},
): Middleware.Plugin<Ledger> => ({
  name: "budgets",
  sections: { budgets: Section, prices: Prices.PricesSection, redis: ConfigKeys.RedisSection },
  // A key's budget, decoded by auth when the key is loaded.
  keyPolicy: [Policy.budget],
  // Spend outlives config reloads: only a change of ledger settings starts a new ledger.
  services: (config) =>
    enabled(config) ? Ledger.layerConfig(config, options.ledgers) : (Layer.empty as Layer.Layer<Ledger>),
  fromConfig: (config) =>
    Effect.gen(function* () {
      if (!enabled(config)) return undefined
      const section = yield* Config.decodeSection(Section, config.budgets ?? {}, "budgets")
      if (config.prices === undefined)
        return yield* Effect.fail(
          new Config.ConfigError({ issues: [{ path: "budgets", message: "budgets need a prices: section" }] }),
        )
      const prices = yield* Config.decodeSection(Prices.PricesSection, config.prices, "prices")
      const ledger = yield* Ledger
      const admin =
        config.admin === undefined ? undefined : yield* Config.decodeSection(AdminKey, config.admin, "admin")
      const adminKeyHash = admin?.key !== undefined ? Hash.sha256(admin.key) : admin?.keyHash?.toLowerCase()
      // Reservations estimate input as the rate limiter does; the real cost settles them.
      const estimator = Tokens.fast
      const { store: _store, timeout: _timeout, ...settings } = section
      return {
        middleware: Budgets.make(
          { ledger, prices, aliases: aliasesOf(config) },
          settings,
          Prices.table(prices),
          estimator,
        ),
        routes: adminKeyHash === undefined ? undefined : UsageRoutes.routes({ ledger, adminKeyHash }),
      }
    }),
})

/** Memory and Redis ledgers only. */
export const plugin: Middleware.Plugin<Ledger> = make()
