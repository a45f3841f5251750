/**
 * Everything the reference server can assemble, in one place: provider types, wire-format
 * ingresses and middleware plugins. Adding a package to the gateway is one line here; an app
 * that ships its own binary adds its plugins with `Sluice.main({ plugins })`, and `sluice start`
 * adds the ones a config names under `plugins:`.
 */
import type { Config, HandlerFn, Ingress, Middleware, ProviderType } from "@sluice/core"
import { IngressLayout, MockProvider } from "@sluice/core"
import * as SluiceAnthropic from "@sluice/anthropic"
import * as SluiceAuth from "@sluice/auth"
import * as SluiceCache from "@sluice/cache"
import * as SluiceConsole from "@sluice/console"
import * as SluiceFiles from "@sluice/files"
import * as SluiceRatelimit from "@sluice/ratelimit"
import * as SluiceGemini from "@sluice/gemini"
import * as SluiceGuardrails from "@sluice/guardrails"
import * as SluiceOpenAI from "@sluice/openai"
import * as SluicePostgres from "@sluice/postgres"
import * as SluiceRealtime from "@sluice/realtime"
import * as SluiceTracing from "@sluice/tracing"
import { Effect, Option, Schema, type Scope } from "effect"
import * as Extensions from "./Extensions.ts"

export const providerTypes: ReadonlyArray<ProviderType> = [
  MockProvider.providerType,
  SluiceAnthropic.Provider.providerType,
  SluiceGemini.Provider.providerType,
  ...SluiceOpenAI.Presets.providerTypes,
]

/**
 * The wire formats clients may speak, configured from the `ingress:` and `responses:` sections;
 * with the `files` plugin's service (in the context), its Files and batch routes too, and its
 * batch runner given this generation's handler.
 */
export const ingresses = (
  config: Config.GatewayConfig,
  handler?: HandlerFn,
): Effect.Effect<ReadonlyArray<Ingress.Ingress>, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const files = Option.getOrUndefined(yield* Effect.serviceOption(SluiceFiles.Service.FilesService))
    if (files !== undefined && handler !== undefined) yield* files.engine.attach(handler)
    const gemini = yield* SluiceGemini.Ingress.fromConfig(config, {
      routes: files === undefined ? undefined : SluiceFiles.Service.geminiRoutes(files),
    })
    const openai = yield* SluiceOpenAI.Ingress.fromConfig(
      config,
      files === undefined ? undefined : SluiceFiles.Service.openaiRoutes(files),
    )
    // Path prefixes per format and fixed routes (path → format + model), from `ingress:`.
    const layout = yield* IngressLayout.fromConfig(config)
    // Order matters where paths are shared (GET /v1/models): anthropic, gemini, openai.
    return IngressLayout.apply([SluiceAnthropic.Ingress.ingress, gemini, openai], layout)
  })

/**
 * WebSocket sessions (Gemini Live, OpenAI Realtime), metered per turn by the installed
 * middleware — except the response cache, which has nothing to replay for a live session.
 */
export const realtime = (
  config: Config.GatewayConfig,
  installed: ReadonlyArray<{ readonly name: string; readonly installed: Middleware.Installed }>,
) =>
  SluiceRealtime.Plugin.fromConfig(
    config,
    installed.filter((m) => m.name !== "cache").map((m) => ({ name: m.name, middleware: m.installed.middleware })),
  )

/** Middleware by name, for the `middleware:` list. */
export const plugins: ReadonlyArray<Middleware.AnyPlugin> = [
  SluiceTracing.plugin,
  SluiceFiles.plugin,
  SluiceAuth.Plugin.make({ stores: [SluicePostgres.keyStore] }),
  SluicePostgres.plugin,
  SluiceCache.plugin,
  SluiceRatelimit.plugin,
  SluiceRatelimit.BudgetsPlugin.make({ ledgers: [SluicePostgres.ledger] }),
  SluiceGuardrails.plugin,
  SluiceConsole.plugin,
]

/** The order used when the config has no `middleware:` list (outermost first). */
export const defaultOrder: ReadonlyArray<string> = [
  "tracing",
  // Before auth, which drops the presented key: gateway files are found by the key's scope.
  "files",
  "auth",
  // After auth (it logs the key), before the cache (it logs hits too).
  "requestlog",
  // Before limits and budgets: a hit calls no upstream and costs nothing.
  "cache",
  "ratelimit",
  "budgets",
  "guardrails",
  "console",
]

/** Sections the app reads itself besides core's (the ingresses' options, the Responses store). */
export const appSections: ReadonlyMap<string, ReadonlyArray<Schema.Schema<any, any, never>>> = new Map([
  ["ingress", [Schema.Record({ key: Schema.String, value: Schema.Unknown })]],
  ["responses", [SluiceOpenAI.ResponsesConfig.Section]],
  ["realtime", [SluiceRealtime.Section.RealtimeSection]],
])

/** What one gateway binary assembles. */
export interface Modules {
  readonly providerTypes: ReadonlyArray<ProviderType>
  readonly plugins: ReadonlyArray<Middleware.AnyPlugin>
  /** Installed when the config has no `middleware:` list, outermost first (each only if configured). */
  readonly defaultOrder: ReadonlyArray<string>
}

export const builtin: Modules = { providerTypes, plugins, defaultOrder }

/**
 * The modules this binary assembles: the built-ins plus what an app's `Sluice.main` added
 * (`Extensions.Current`).
 */
export const current: Effect.Effect<Modules> = Effect.map(Extensions.Current, (extensions) =>
  withExtensions(builtin, extensions),
)

/**
 * The built-in modules plus more plugins (an app's own, or those a config names). A plugin
 * with a built-in's name replaces it; new ones join the default order after the built-ins.
 */
export const withPlugins = (base: Modules, extra: ReadonlyArray<Middleware.AnyPlugin>): Modules => {
  if (extra.length === 0) return base
  const names = new Set(extra.map((p) => p.name))
  return {
    ...base,
    plugins: [...base.plugins.filter((p) => !names.has(p.name)), ...extra],
    defaultOrder: [...base.defaultOrder, ...extra.map((p) => p.name).filter((n) => !base.defaultOrder.includes(n))],
  }
}

/** The built-in modules with an app's plugins and provider types. */
export const withExtensions = (base: Modules, extensions: Extensions.Extensions): Modules => {
  const withPluginsAdded = withPlugins(base, extensions.plugins ?? [])
  return {
    ...withPluginsAdded,
    providerTypes: [...withPluginsAdded.providerTypes, ...(extensions.providerTypes ?? [])],
  }
}

/** Every top-level section the modules know: the app's and each plugin's, with their schemas. */
export const sectionsOf = (modules: Modules): ReadonlyMap<string, ReadonlyArray<Schema.Schema<any, any, never>>> => {
  const sections = new Map<string, Array<Schema.Schema<any, any, never>>>()
  for (const [name, schemas] of appSections) sections.set(name, [...schemas])
  for (const plugin of modules.plugins) {
    // A plugin that declares no sections owns the one named after it (schema its own business).
    const own = plugin.sections ?? { [plugin.name]: Schema.Unknown }
    for (const [name, schema] of Object.entries(own)) {
      const list = sections.get(name) ?? []
      // Plugins sharing a section (redis:) usually share its schema: validate it once.
      if (!list.includes(schema)) list.push(schema)
      sections.set(name, list)
    }
  }
  return sections
}
