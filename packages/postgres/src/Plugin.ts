/**
 * Postgres for the YAML-driven gateway (section `database:`):
 * - `keyStore`: `auth.store: postgres` keeps admin-API keys in `sluice_keys`;
 * - `ledger`: `budgets.store: postgres` keeps every key's spend in `sluice_spend`;
 * - `plugin` (`requestlog`): one row per request in `sluice_request_log`, with retention, and
 *   `/admin/requests` + `/admin/usage/daily` behind the admin key.
 */
import { Hash, type Plugin as AuthPlugin } from "@sluice/auth"
import { Config, type Middleware } from "@sluice/core"
import { BudgetsPlugin, type LedgerService, Prices } from "@sluice/ratelimit"
import { Effect, Schema } from "effect"
import * as KeyStore from "./KeyStore.ts"
import * as PgLedger from "./Ledger.ts"
import * as RequestLog from "./RequestLog.ts"
import * as Routes from "./Routes.ts"
import { Section } from "./Section.ts"

/** The database, or undefined without a `database:` section; the Postgres client is loaded only then. */
const database = (config: Config.GatewayConfig) =>
  config.database === undefined
    ? Effect.succeed(undefined)
    : Effect.flatMap(
        Effect.promise(() => import("./Database.ts")),
        (Database) => Database.fromConfig(config),
      )

const needsDatabase = (path: string) =>
  new Config.ConfigError({ issues: [{ path, message: "the postgres store needs a database: { url } section" }] })

/** `auth.store: postgres`, for `Auth.Plugin.make({ stores: [keyStore] })`. */
export const keyStore: AuthPlugin.ExternalStore = {
  kind: "postgres",
  make: (config, options) =>
    Effect.gen(function* () {
      const db = yield* database(config)
      if (db === undefined) return yield* Effect.fail(needsDatabase("auth.store"))
      return yield* KeyStore.make({ sql: db.sql, ...options })
    }),
}

/** `budgets.store: postgres`, for `BudgetsPlugin.make({ ledgers: [ledger] })`: spend in `sluice_spend`. */
export const ledger: LedgerService.ExternalLedger = {
  kind: "postgres",
  fingerprint: (config) => config.database,
  make: (config, options) =>
    Effect.gen(function* () {
      const db = yield* database(config)
      if (db === undefined) return yield* Effect.fail(needsDatabase("budgets.store"))
      return PgLedger.make({ sql: db.sql, timeoutMs: options.timeoutMs })
    }),
}

/** Only the admin key; the `admin:` section is @sluice/auth's to validate in full. */
const AdminKey = Schema.Struct(
  { key: Schema.optional(Schema.String), keyHash: Schema.optional(Schema.String) },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

export const adminKeyHashOf = (config: Config.GatewayConfig) =>
  Effect.gen(function* () {
    if (config.admin === undefined) return undefined
    const admin = yield* Config.decodeSection(AdminKey, config.admin, "admin")
    return admin.key !== undefined ? Hash.sha256(admin.key) : admin.keyHash?.toLowerCase()
  })

/** Listeners of new request-log rows (the console's live tail), per gateway config. */
const tails = new WeakMap<Config.GatewayConfig, Set<(row: RequestLog.Row) => void>>()
export const tailOf = (config: Config.GatewayConfig): Set<(row: RequestLog.Row) => void> => {
  let set = tails.get(config)
  if (set === undefined) {
    set = new Set()
    tails.set(config, set)
  }
  return set
}

export const plugin: Middleware.Plugin = {
  name: "requestlog",
  sections: { database: Section },
  fromConfig: (config) =>
    Effect.gen(function* () {
      const db = yield* database(config)
      if (db === undefined || !db.section.requestLog) return undefined
      const prices =
        config.prices === undefined
          ? undefined
          : Prices.table(yield* Config.decodeSection(Prices.PricesSection, config.prices, "prices"))
      const listeners = tailOf(config)
      const log = yield* RequestLog.build({
        sql: db.sql,
        prices,
        aliases: BudgetsPlugin.aliasesOf(config),
        prompts: db.section.prompts,
        onRow: (row) => {
          for (const l of listeners) l(row)
        },
      })
      yield* RequestLog.retention(db.sql, db.section.retention)
      const adminKeyHash = yield* adminKeyHashOf(config)
      return {
        middleware: log.middleware,
        refused: log.refused,
        routes: adminKeyHash === undefined ? undefined : Routes.routes({ sql: db.sql, adminKeyHash }),
      }
    }),
}
