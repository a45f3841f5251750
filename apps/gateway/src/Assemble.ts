/**
 * YAML config → a running gateway: providers, router, middleware (in the configured order) and
 * the HTTP app. Built once per config; a reload builds a new one and swaps it in.
 */
import type { HttpApp, HttpClient } from "@effect/platform"
import { Effect, Either, Schema, type Scope } from "effect"
import { Config, Gateway, type HandlerFn, type Ingress, Middleware } from "@sluice/core"
import { App } from "@sluice/server"
import * as Modules from "./Modules.ts"

export interface Assembled {
  readonly config: Config.GatewayConfig
  readonly app: HttpApp.Default
  readonly handler: HandlerFn
  /** Names of the middleware actually installed, outermost first. */
  readonly middleware: ReadonlyArray<string>
}

const MiddlewareList = Schema.Array(Schema.String)

export const build = (
  config: Config.GatewayConfig,
): Effect.Effect<Assembled, Config.ConfigError, Scope.Scope | HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const byName = new Map(Modules.plugins.map((p) => [p.name, p]))
    const explicit = config.middleware !== undefined
    const order = explicit
      ? yield* Config.decodeSection(MiddlewareList, config.middleware, "middleware")
      : Modules.defaultOrder.filter((n) => byName.has(n))
    const installed: Array<{ name: string; installed: Middleware.Installed }> = []
    const issues: Array<Config.ConfigIssue> = []
    for (const [i, name] of order.entries()) {
      const plugin = byName.get(name)
      if (plugin === undefined) {
        issues.push({
          path: `middleware[${i}]`,
          message: `unknown middleware "${name}" (known: ${[...byName.keys()].join(", ") || "none"})`,
        })
        continue
      }
      const result = yield* plugin.fromConfig(config)
      if (result !== undefined) installed.push({ name, installed: result })
    }
    if (issues.length > 0) return yield* Effect.fail(new Config.ConfigError({ issues }))
    const handler = yield* Gateway.make({
      config,
      providerTypes: Modules.providerTypes,
      middleware: installed.map((m) => Middleware.of(m.name, m.installed.middleware)),
    })
    const routes: Array<Ingress.PlainRoute> = installed.flatMap((m) => m.installed.routes ?? [])
    const ingresses = yield* Modules.ingresses(config)
    const app = App.make({
      ingresses,
      handler: () => handler,
      bodyLimit: config.server.bodyLimit,
      extraRoutes: routes,
    })
    return { config, app, handler, middleware: installed.map((m) => m.name) }
  })

/** Read and validate a config file's text, or the defaults when there is no file. */
export const loadConfig = (
  text: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Either.Either<Config.GatewayConfig, Config.ConfigError> =>
  text === undefined ? Either.right(Config.defaults(env)) : Config.parse(text, env)
