/**
 * The example gateway, served and called the way its users would: an OpenAI SDK and a Gemini SDK
 * client with the demo key, one request to the mock model and one to an OpenAI-compatible upstream.
 */
import { GoogleGenAI } from "@google/genai"
import type { HttpServer } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Exit, Layer, Scope } from "effect"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NodeServer } from "@sluice/server"
import { OpenAIUpstream } from "@sluice/testing"
import { gateway } from "../src/gateway.ts"

const KEY = "sk-demo-test-0123456789"
let url: string
let scope: Scope.CloseableScope
let upstream: OpenAIUpstream.OpenAIUpstream

beforeAll(async () => {
  upstream = await OpenAIUpstream.start()
  scope = Effect.runSync(Scope.make())
  const port = await Effect.runPromise(
    Effect.gen(function* () {
      const app = yield* gateway(upstream.baseUrl, KEY)
      const server = yield* NodeServer.make(app, { port: 0 })
      return (server.address as HttpServer.TcpAddress).port
    }).pipe(Effect.provide(Layer.extendScope(NodeHttpClient.layerUndici)), Scope.extend(scope)),
  )
  url = `http://127.0.0.1:${port}`
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await upstream.close()
})

describe("the custom gateway example", () => {
  it("answers an OpenAI client from the OpenAI-compatible upstream", async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 })
    const r = await client.chat.completions.create({
      model: "local-model",
      messages: [{ role: "user", content: "hi" }],
    })
    expect(r.choices[0]!.message.content).toBe("echo: hi")
  })

  it("meters the demo key on the Limiter service, with the key's own limit over the default", async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 })
    const { response } = await client.chat.completions
      .create({ model: "mock", messages: [{ role: "user", content: "hi" }] })
      .withResponse()
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("600")
  })

  it("answers a Gemini client from the mock model", async () => {
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: url } })
    expect((await ai.models.generateContent({ model: "mock", contents: "hello" })).text).toBe("echo: hello")
  })

  it("refuses a wrong key and blocks PII", async () => {
    const bad = new OpenAI({ apiKey: "sk-wrong-key-0123456789", baseURL: `${url}/v1`, maxRetries: 0 })
    await expect(
      bad.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "hi" }] }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    const good = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 })
    await expect(
      good.chat.completions.create({
        model: "mock",
        messages: [{ role: "user", content: "card 4111 1111 1111 1111" }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError)
  })
})
