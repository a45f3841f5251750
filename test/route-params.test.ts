/**
 * Gateway-side generation parameters (Kong's model options): a model's or a rule's `params` are
 * defaults the client's values override, `forceParams` win over the client, a rule's win over its
 * model's, and a fallback to another model gets that model's. Read from what the upstream receives.
 */
import { GoogleGenAI } from "@google/genai"
import { Either } from "effect"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Config } from "@sluice/core"
import { OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let upstream: OpenAIUpstream.OpenAIUpstream
let gateway: RunningGateway
let client: OpenAI

const config = () => ({
  providers: { up: { type: "openai-compatible", baseUrl: upstream.baseUrl } },
  models: {
    tuned: { provider: "up", model: "gpt-4o", params: { temperature: 0.2, maxTokens: 100 } },
    capped: { provider: "up", model: "gpt-4o-mini", forceParams: { maxTokens: 64 } },
    plain: { provider: "up", model: "gpt-4o" },
  },
  routes: [
    { match: "strict-*", to: "tuned", forceParams: { temperature: 0 }, params: { topP: 0.5 } },
    { match: "falls", to: "up/missing-model", fallbacks: ["capped"] },
  ],
})

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ models: ["gpt-4o", "gpt-4o-mini"] })
  gateway = await startGateway(config())
  client = new OpenAI({ apiKey: "x", baseURL: `${gateway.url}/v1`, maxRetries: 0 })
})
afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

const last = () => upstream.chatBodies().at(-1)!
const ask = (model: string, extra: Record<string, unknown> = {}) =>
  client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], ...extra })

describe("route and model generation parameters", () => {
  it("fills a model's defaults and lets the client's own values win", async () => {
    await ask("tuned")
    expect(last()).toMatchObject({ temperature: 0.2, max_tokens: 100 })
    await ask("tuned", { temperature: 0.9 })
    expect(last()).toMatchObject({ temperature: 0.9, max_tokens: 100 })
  })

  it("forces a rule's values over the client's and the model's", async () => {
    await ask("strict-a", { temperature: 1.5 })
    expect(last()).toMatchObject({ temperature: 0, top_p: 0.5, max_tokens: 100 })
    await ask("strict-b", { top_p: 0.9 })
    expect(last()).toMatchObject({ temperature: 0, top_p: 0.9 })
  })

  it("gives a fallback its own model's parameters", async () => {
    await ask("falls", { max_tokens: 1000 })
    expect(last()).toMatchObject({ model: "gpt-4o-mini", max_tokens: 64 })
  })

  it("applies to every client format", async () => {
    const ai = new GoogleGenAI({ apiKey: "x", httpOptions: { baseUrl: gateway.url } })
    await ai.models.generateContent({ model: "tuned", contents: "hi" })
    expect(last()).toMatchObject({ temperature: 0.2, max_tokens: 100 })
  })

  it("leaves requests to models without parameters alone", async () => {
    await ask("plain")
    expect(last().temperature).toBeUndefined()
  })

  it("names a bad value's path in the config", () => {
    const bad = Config.fromObject(
      { ...config(), models: { m: { provider: "up", model: "x", params: { temperature: 7 } } }, routes: [] },
      {},
    )
    expect(Either.isLeft(bad) && bad.left.message).toMatch(/models\.m\.params\.temperature/)
    const bad2 = Config.fromObject(
      { ...config(), routes: [{ match: "*", to: "plain", forceParams: { topK: 1.5 } }] },
      {},
    )
    expect(Either.isLeft(bad2) && bad2.left.message).toMatch(/routes\[0\]\.forceParams\.topK/)
  })
})
