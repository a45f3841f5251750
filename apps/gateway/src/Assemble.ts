/**
 * YAML config → a running gateway: providers, router, middleware (in the configured order) and
 * the HTTP app. Built once per config; a reload builds a new one and swaps it in.
 *
 * Long-lived services (circuit breakers, key/limiter/ledger stores, Redis clients) are built
 * through `memoMap`, which the Reloader keeps for the process's life: a service whose own config
 * did not change is the same instance in the new generation (state kept), and it closes only
 * when no live generation uses it any more.
 */
import type { HttpApp, HttpClient } from "@effect/platform"
import { Effect, Either, Layer, Schema, type Scope } from "effect"
import { Config, Gateway, type HandlerFn, type Ingress, KeyPolicy, Middleware, Resilience } from "@sluice/core"
import * as SluiceOpenAI from "@sluice/openai"
import type * as SluiceRealtime from "@sluice/realtime"
import { App } from "@sluice/server"
import * as Modules from "./Modules.ts"

export interface Assembled {
  readonly config: Config.GatewayConfig
  readonly app: HttpApp.Default
  readonly handler: HandlerFn
  /** WebSocket upgrades (realtime sessions), for the Node server. */
  readonly upgrade: SluiceRealtime.Server.UpgradeHandler
  /** Names of the middleware actually installed, outermost first. */
  readonly middleware: ReadonlyArray<string>
}

export interface BuildOptions {
  /** What to assemble from (the built-in packages by default). */
  readonly modules?: Modules.Modules | undefined
  /** Where long-lived services are memoized; keep one across reloads. A fresh one by default. */
  readonly memoMap?: Layer.MemoMap | undefined
}

const MiddlewareList = Schema.Array(Schema.String)

export const build = (
  config: Config.GatewayConfig,
  options: BuildOptions = {},
): Effect.Effect<Assembled, Config.ConfigError, Scope.Scope | HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const modules = options.modules ?? Modules.builtin
    yield* Config.checkSections(config, Modules.sectionsOf(modules))
    const byName = new Map(modules.plugins.map((p) => [p.name, p]))
    const explicit = config.middleware !== undefined
    const order = explicit
      ? yield* Config.decodeSection(MiddlewareList, config.middleware, "middleware")
      : modules.defaultOrder.filter((n) => byName.has(n))
    const plugins: Array<Middleware.AnyPlugin> = []
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
      plugins.push(plugin)
    }
    if (issues.length > 0) return yield* Effect.fail(new Config.ConfigError({ issues }))

    // The long-lived services, once per generation through the shared memo map.
    const memoMap = options.memoMap ?? (yield* Layer.makeMemoMap)
    const services = Layer.mergeAll(
      Resilience.Breaker.layerConfig(config),
      // Stored Responses API responses (previous_response_id) outlive reloads too.
      SluiceOpenAI.ResponsesConfig.Store.layerConfig(config),
      ...plugins.map((p) => p.services?.(config) ?? Layer.empty),
    )
    const context = yield* Layer.buildWithMemoMap(services, memoMap, yield* Effect.scope)

    // Keys' policy fields: those of the middleware in this pipeline, decoded by their owners'
    // schemas (auth does it once per key); a field of a plugin left out is refused, saying so.
    const policies = yield* Effect.try({
      try: () =>
        KeyPolicy.decoder(
          config,
          plugins.flatMap((p) => p.keyPolicy ?? []),
          modules.plugins.flatMap((p) => p.keyPolicy ?? []),
        ),
      catch: (e) => new Config.ConfigError({ issues: [{ path: "plugins", message: (e as Error).message }] }),
    })

    const installed: Array<{ name: string; installed: Middleware.Installed }> = []
    for (const plugin of plugins) {
      const result = yield* plugin
        .fromConfig(config)
        .pipe(Effect.provide(context), Effect.provideService(KeyPolicy.Policies, policies))
      if (result !== undefined) installed.push({ name: plugin.name, installed: result })
    }
    const handler = yield* Gateway.make({
      config,
      providerTypes: modules.providerTypes,
      middleware: installed.map((m) => Middleware.of(m.name, m.installed.middleware)),
    }).pipe(Effect.provide(context))
    const routes: Array<Ingress.PlainRoute> = installed.flatMap((m) => m.installed.routes ?? [])
    const ingresses = yield* Modules.ingresses(config, handler).pipe(Effect.provide(context))
    const admits = installed.flatMap((m) => (m.installed.admit === undefined ? [] : [m.installed.admit]))
    const observers = installed.flatMap((m) => (m.installed.refused === undefined ? [] : [m.installed.refused]))
    const app = App.make({
      ingresses,
      handler: () => handler,
      bodyLimit: config.server.bodyLimit,
      extraRoutes: routes,
      admit: admits.length <= 1 ? admits[0] : (ctx) => Effect.forEach(admits, (admit) => admit(ctx), { discard: true }),
      refused:
        observers.length <= 1
          ? observers[0]
          : (r) => {
              for (const observe of observers) observe(r)
            },
    })
    const realtime = yield* Modules.realtime(config, installed)
    return { config, app, handler, upgrade: realtime.upgrade, middleware: installed.map((m) => m.name) }
  })

/** Read and validate a config file's text, or the defaults when there is no file. */
export const loadConfig = (
  text: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  modules: Modules.Modules = Modules.builtin,
): Either.Either<Config.GatewayConfig, Config.ConfigError> =>
  text === undefined
    ? Either.right(Config.defaults(env))
    : Config.parse(text, env, { sections: Modules.sectionsOf(modules) })
