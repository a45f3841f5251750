/**
 * Everything the reference server can assemble, in one place: provider types, wire-format
 * ingresses and middleware plugins. Adding a package to the gateway is one line here.
 */
import type { Config, Ingress, Middleware, ProviderType } from "@sluice/core"
import { IngressLayout, MockProvider } from "@sluice/core"
import * as SluiceAnthropic from "@sluice/anthropic"
import * as SluiceAuth from "@sluice/auth"
import * as SluiceCache from "@sluice/cache"
import * as SluiceConsole from "@sluice/console"
import * as SluiceRatelimit from "@sluice/ratelimit"
import * as SluiceGemini from "@sluice/gemini"
import * as SluiceGuardrails from "@sluice/guardrails"
import * as SluiceOpenAI from "@sluice/openai"
import * as SluicePostgres from "@sluice/postgres"
import * as SluiceTracing from "@sluice/tracing"
import { Effect, type Scope } from "effect"

export const providerTypes: ReadonlyArray<ProviderType> = [
  MockProvider.providerType,
  SluiceAnthropic.Provider.providerType,
  SluiceGemini.Provider.providerType,
  ...SluiceOpenAI.Presets.providerTypes,
]

/** The wire formats clients may speak, configured from the `ingress:` and `responses:` sections. */
export const ingresses = (
  config: Config.GatewayConfig,
): Effect.Effect<ReadonlyArray<Ingress.Ingress>, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const gemini = yield* SluiceGemini.Ingress.fromConfig(config)
    const openai = yield* SluiceOpenAI.Ingress.fromConfig(config)
    // Path prefixes per format and fixed routes (path → format + model), from `ingress:`.
    const layout = yield* IngressLayout.fromConfig(config)
    // Order matters where paths are shared (GET /v1/models): anthropic, gemini, openai.
    return IngressLayout.apply([SluiceAnthropic.Ingress.ingress, gemini, openai], layout)
  })

/** Middleware by name, for the `middleware:` list. */
export const plugins: ReadonlyArray<Middleware.Plugin> = [
  SluiceTracing.plugin,
  SluiceAuth.Plugin.make({ stores: [SluicePostgres.keyStore] }),
  SluicePostgres.plugin,
  SluiceCache.plugin,
  SluiceRatelimit.plugin,
  SluiceRatelimit.budgetsPlugin,
  SluiceGuardrails.plugin,
  SluiceConsole.plugin,
]

/** The order used when the config has no `middleware:` list (outermost first). */
export const defaultOrder: ReadonlyArray<string> = [
  "tracing",
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
