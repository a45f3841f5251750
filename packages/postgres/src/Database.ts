/**
 * One connection pool per gateway for everything kept in Postgres, opened (and migrated) once
 * however many plugins ask for it: remembered per config object, in the gateway's scope.
 */
import { Reactivity } from "@effect/experimental"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Config } from "@sluice/core"
import { Effect, type Scope } from "effect"
import * as Migrations from "./Migrations.ts"
import { describe, Section } from "./Section.ts"

export interface Database {
  readonly sql: PgClient.PgClient
  readonly section: Section
}

const opened = new WeakMap<Config.GatewayConfig, Database>()

const unreachable = (section: Section, what: string) => (e: { readonly _tag: string; readonly message?: string }) =>
  new Config.ConfigError({
    issues: [
      {
        path: "database.url",
        // Driver messages name the host and the failing step, never the password.
        message: `${what} at ${describe(section.url)} failed: ${(e.message ?? e._tag).slice(0, 200)}`,
      },
    ],
  })

export const open = (section: Section): Effect.Effect<Database, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* PgClient.make({
      url: section.url,
      maxConnections: section.maxConnections,
      connectTimeout: "5 seconds",
      applicationName: "sluice",
    }).pipe(Effect.provide(Reactivity.layer), Effect.mapError(unreachable(section, "connecting")))
    const applied = yield* Migrations.run.pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.mapError(unreachable(section, "migrating")),
    )
    yield* Effect.logInfo(`database: ${describe(section.url)}, ${applied.length} migration(s) applied`)
    return { sql, section }
  })

/** The gateway's database, or undefined without a `database:` section. */
export const fromConfig = (
  config: Config.GatewayConfig,
): Effect.Effect<Database | undefined, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    if (config.database === undefined) return undefined
    const known = opened.get(config)
    if (known !== undefined) return known
    const section = yield* Config.decodeSection(Section, config.database, "database")
    const db = yield* open(section)
    opened.set(config, db)
    return db
  })
