/**
 * `console` for the YAML-driven gateway: on whenever there is an `admin:` key (turn it off with
 * `console: false`). It adds routes only; its middleware passes requests through.
 */
import { Config, type Middleware } from "@sluice/core"
import { Plugin as Pg } from "@sluice/postgres"
import { Effect, Schema } from "effect"
import * as Routes from "./Routes.ts"

export const Section = Schema.Union(Schema.Boolean, Schema.Struct({ enabled: Schema.optional(Schema.Boolean) }))

export const plugin: Middleware.Plugin = {
  name: "console",
  fromConfig: (config) =>
    Effect.gen(function* () {
      const section =
        config.console === undefined ? true : yield* Config.decodeSection(Section, config.console, "console")
      const enabled = typeof section === "boolean" ? section : section.enabled !== false
      const adminKeyHash = yield* Pg.adminKeyHashOf(config)
      if (!enabled || adminKeyHash === undefined) return undefined
      yield* Effect.logInfo("console: admin console at /admin/ui")
      return {
        middleware: (next) => next,
        routes: Routes.routes({
          config,
          adminKeyHash,
          tail: config.database === undefined ? undefined : Pg.tailOf(config),
        }),
      }
    }),
}
