/**
 * The OpenAI-format provider types as the config sees them: defaults, required keys and base
 * URLs, options checked at start; and the provider's own model listing.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Redacted } from "effect"
import type { ProviderType } from "@sluice/core"
import { Presets } from "@sluice/openai"
import { OpenAIUpstream } from "@sluice/testing"
import { describe, expect, it } from "vitest"
import { startGateway } from "./support/gateway.ts"

const byType = new Map<string, ProviderType>(Presets.providerTypes.map((t) => [t.type, t]))

const startError = (providers: Record<string, unknown>) =>
  startGateway({ providers }).then(
    () => "started",
    (e: Error) => e.message,
  )

describe("OpenAI-format provider types", () => {
  it.each([
    ["openai", "https://api.openai.com/v1", true],
    ["deepseek", "https://api.deepseek.com", true],
    ["xai", "https://api.x.ai/v1", true],
    ["ollama", "http://127.0.0.1:11434/v1", false],
    ["openai-compatible", undefined, false],
  ])("%s: default base URL %s, key required: %s", (type, baseUrl, requiresKey) => {
    const t = byType.get(type)!
    expect(t.defaultBaseUrl).toBe(baseUrl)
    expect(t.requiresKey).toBe(requiresKey)
  })

  it("refuses to start without what a type needs, naming the config path", async () => {
    expect(await startError({ grok: { type: "xai" } })).toContain("providers.grok.apiKey")
    expect(await startError({ vllm: { type: "openai-compatible" } })).toContain("providers.vllm.baseUrl")
    expect(await startError({ local: { type: "ollama", options: { maxTokensField: "max_output_tokens" } } })).toContain(
      "providers.local.options.maxTokensField",
    )
  })

  it("starts an ollama provider with no key and no base URL", async () => {
    const gw = await startGateway({ providers: { local: { type: "ollama" } } })
    await gw.close()
  })

  it("lists the upstream's models as <provider>/<model> ids, sending the key", async () => {
    const up = await OpenAIUpstream.start({ apiKey: "sk-list-key-123", models: ["gpt-a", "text-embedding-b"] })
    try {
      const models = await Effect.runPromise(
        byType
          .get("openai")!
          .make("oa", { type: "openai", baseUrl: up.baseUrl, apiKey: Redacted.make("sk-list-key-123") })
          .pipe(
            Effect.flatMap((p) => p.listModels({ requestId: "r" })),
            Effect.provide(NodeHttpClient.layerUndici),
          ),
      )
      expect(models.map((m) => [m.id, m.provider, m.operations])).toEqual([
        ["oa/gpt-a", "oa", ["chat"]],
        ["oa/text-embedding-b", "oa", ["embed"]],
      ])
      expect(up.requests.at(-1)!.headers.authorization).toBe("Bearer sk-list-key-123")
    } finally {
      await up.close()
    }
  })
})
