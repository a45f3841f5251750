/**
 * A custom gateway in code: Gemini and OpenAI clients in, the mock model and any OpenAI-compatible
 * server out, with virtual keys, rate limits and a guardrail — outermost middleware first.
 */
import { Effect, Schema } from "effect"
import { Auth, ConfigKeys, KeyStore } from "@sluice/auth"
import { Config, Gateway, MockProvider } from "@sluice/core"
import * as Gemini from "@sluice/gemini"
import * as Guardrails from "@sluice/guardrails"
import * as OpenAI from "@sluice/openai"
import { MemoryLimiter, RateLimit } from "@sluice/ratelimit"
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
    const keys = Schema.decodeSync(ConfigKeys.KeysSection)([{ name: "demo", key: clientKey }]).map((k) =>
      ConfigKeys.toRecord(k),
    )
    const handler = yield* Gateway.make({
      config,
      providerTypes: [MockProvider.providerType, ...OpenAI.Presets.providerTypes],
      middleware: [
        Auth.middleware(KeyStore.memory(keys)), // who is calling
        RateLimit.middleware({ store: MemoryLimiter.make(), default: { rpm: 600 } }), // how often
        Guardrails.Middleware.middleware({ config: { policies: { pii: { pii: ["email", "credit_card"] } } } }), // what they may say
      ],
    })
    const ingresses = [Gemini.Ingress.make(), OpenAI.Ingress.ingress]
    return App.make({ ingresses, handler: () => handler, bodyLimit: 1024 * 1024 })
  })
