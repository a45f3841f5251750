/**
 * A custom gateway in code: Gemini and OpenAI clients in, the mock model and any OpenAI-compatible
 * server out, with virtual keys, rate limits and a guardrail — outermost middleware first.
 *
 * The long-lived services (the writable key store, the limiter's buckets) are composed with
 * `Layer` and provided once; each middleware asks for its service through its `R` when the
 * pipeline is built, never per request. Swap `KeyStoreService.memory` / `Limiter.memory` for
 * their Redis layers to share keys and buckets across a fleet.
 */
import { Effect, Layer, Schema } from "effect"
import { Auth, ConfigKeys, KeyStoreService } from "@sluice/auth"
import { Config, Gateway, KeyPolicy, MockProvider } from "@sluice/core"
import * as Gemini from "@sluice/gemini"
import * as Guardrails from "@sluice/guardrails"
import * as OpenAI from "@sluice/openai"
import { LimiterService, Policy, RateLimit } from "@sluice/ratelimit"
import { App } from "@sluice/server"

export const gateway = (upstreamBaseUrl: string, clientKey: string) =>
  Effect.gen(function* () {
    const config = yield* Config.fromObject(
      {
        providers: { mock: { type: "mock" }, local: { type: "openai-compatible", baseUrl: upstreamBaseUrl } },
        models: {
          mock: { provider: "mock", model: "mock" },
          "local-model": { provider: "local", model: "local-model" },
        },
      },
      {},
    )
    // The demo key carries its own rate limit: a policy field ratelimit owns, decoded once here.
    const keys = Schema.decodeSync(ConfigKeys.KeysSection)([
      { name: "demo", key: clientKey, rateLimit: { rpm: 600 } },
    ]).map((k) => ConfigKeys.toRecord(k))
    const policies = KeyPolicy.decoder(undefined, [Policy.rateLimit])
    const services = Layer.mergeAll(KeyStoreService.KeyStoreService.memory, LimiterService.Limiter.memory)
    const handler = yield* Gateway.make({
      config,
      providerTypes: [MockProvider.providerType, ...OpenAI.Presets.providerTypes],
      middleware: [
        Auth.fromService(keys, { policies }), // who is calling: MiddlewareSpec<never, KeyStoreService>
        RateLimit.fromService({ default: { rpm: 1200 } }), // how often: MiddlewareSpec<ConfigError, Limiter>
        Guardrails.Middleware.middleware({ config: { policies: { pii: { pii: ["email", "credit_card"] } } } }), // what they may say
      ],
    }).pipe(Effect.provide(services))
    const ingresses = [Gemini.Ingress.make(), OpenAI.Ingress.ingress]
    return App.make({ ingresses, handler: () => handler, bodyLimit: 1024 * 1024 })
  })
