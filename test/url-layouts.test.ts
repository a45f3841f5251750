/**
 * URL layouts of other gateways: HasteKit's per-format prefixes (`/api/gateway/{gemini,openai,
 * anthropic}/…`) with the official SDKs, and fixed routes where the path pins the wire format and
 * the model (Kong's and Gloo's `POST /gemini`). What reaches the upstream is read from its mock.
 */
import Anthropic from "@anthropic-ai/sdk"
import { GoogleGenAI } from "@google/genai"
import OpenAI from "openai"
import { Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Config } from "@sluice/core"
import { Assemble } from "@sluice/gateway"
import { OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let upstream: OpenAIUpstream.OpenAIUpstream
let gateway: RunningGateway

const config = () => ({
  providers: { up: { type: "openai-compatible", baseUrl: upstream.baseUrl } },
  models: {
    "gemini-2.5-flash": { provider: "up", model: "gpt-4o-mini" },
    "gpt-4o": { provider: "up", model: "gpt-4o" },
    "claude-sonnet": { provider: "up", model: "gpt-4o" },
    pinned: { provider: "up", model: "gpt-4o-mini" },
  },
  ingress: {
    gemini: { pathPrefix: "/api/gateway/gemini" },
    openai: { pathPrefix: "/api/gateway/openai" },
    anthropic: { pathPrefix: "/api/gateway/anthropic" },
    routes: [
      { path: "/gemini", format: "gemini", model: "pinned" },
      { path: "/chat", format: "openai", model: "pinned" },
      { path: "/messages", format: "anthropic", model: "pinned" },
    ],
  },
})

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ models: ["gpt-4o", "gpt-4o-mini"] })
  gateway = await startGateway(config())
})
afterAll(async () => {
  await gateway?.close()
  await upstream?.close()
})

const lastModel = () => upstream.chatBodies().at(-1)?.model

describe("path prefixes per wire format", () => {
  it("serves the Gemini SDK under /api/gateway/gemini, streamed and not", async () => {
    const ai = new GoogleGenAI({ apiKey: "x", httpOptions: { baseUrl: `${gateway.url}/api/gateway/gemini` } })
    const r = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hello gemini" })
    expect(r.text).toContain("hello gemini")
    let streamed = ""
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "again" }))
      streamed += chunk.text ?? ""
    expect(streamed).toContain("again")
    expect(lastModel()).toBe("gpt-4o-mini")
  })

  it("serves the OpenAI SDK under /api/gateway/openai, with or without /v1 in the base URL", async () => {
    for (const base of [`${gateway.url}/api/gateway/openai/v1`, `${gateway.url}/api/gateway/openai`]) {
      const client = new OpenAI({ apiKey: "x", baseURL: base, maxRetries: 0 })
      const r = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })
      expect(r.choices[0]?.message.content).toContain("hi")
      expect(lastModel()).toBe("gpt-4o")
    }
  })

  it("serves the Anthropic SDK under /api/gateway/anthropic", async () => {
    const client = new Anthropic({ apiKey: "x", baseURL: `${gateway.url}/api/gateway/anthropic`, maxRetries: 0 })
    const r = await client.messages.create({
      model: "claude-sonnet",
      max_tokens: 50,
      messages: [{ role: "user", content: "hello claude" }],
    })
    expect(r.content[0]?.type === "text" && r.content[0].text).toContain("hello claude")
  })

  it("keeps the root paths", async () => {
    const client = new OpenAI({ apiKey: "x", baseURL: `${gateway.url}/v1`, maxRetries: 0 })
    await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "root" }] })
    expect(lastModel()).toBe("gpt-4o")
  })
})

describe("fixed routes: the path pins the format and the model", () => {
  it("POST /gemini with a Gemini body reaches the route's model; ?alt=sse streams", async () => {
    const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "pinned hello" }] }] })
    const r = await fetch(`${gateway.url}/gemini`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    })
    expect(r.status).toBe(200)
    const json = (await r.json()) as { candidates: Array<{ content: { parts: Array<{ text: string }> } }> }
    expect(json.candidates[0]?.content.parts[0]?.text).toContain("pinned hello")
    expect(lastModel()).toBe("gpt-4o-mini")
    const s = await fetch(`${gateway.url}/gemini?alt=sse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    })
    expect(s.headers.get("content-type")).toContain("text/event-stream")
    expect(await s.text()).toMatch(/^data: /)
  })

  it("POST /chat with an OpenAI body: the route's model replaces the client's", async () => {
    const client = new OpenAI({ apiKey: "x", baseURL: gateway.url, maxRetries: 0 })
    const r = await client.post("/chat", {
      body: { model: "gpt-4o", messages: [{ role: "user", content: "fixed" }] },
    })
    expect(JSON.stringify(r)).toContain("fixed")
    expect(lastModel()).toBe("gpt-4o-mini")
  })

  it("POST /messages answers in Anthropic's format, errors included", async () => {
    const r = await fetch(`${gateway.url}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
    })
    expect(r.status).toBe(400)
    expect(await r.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } })
  })
})

describe("the ingress section is validated", () => {
  const bad = (ingress: unknown) => {
    const parsed = Config.fromObject({ ...config(), ingress }, {})
    if (Either.isLeft(parsed)) return parsed.left.message
    return undefined
  }
  it("names the bad key", async () => {
    const { Effect, Exit, Scope } = await import("effect")
    const { NodeHttpClient } = await import("@effect/platform-node")
    const message = async (ingress: unknown) => {
      const early = bad(ingress)
      if (early !== undefined) return early
      const parsed = Config.fromObject({ ...config(), ingress }, {})
      if (Either.isLeft(parsed)) return parsed.left.message
      const exit = await Effect.runPromiseExit(
        Effect.scoped(Assemble.build(parsed.right)).pipe(Effect.provide(NodeHttpClient.layerUndici)),
      )
      void Scope
      return Exit.isFailure(exit) ? String(exit.cause) : "ok"
    }
    expect(await message({ routes: [{ path: "/x", format: "cohere", model: "m" }] })).toMatch(
      /ingress\.routes\[0\]\.format/,
    )
    expect(await message({ openai: { pathPrefix: "api/" } })).toMatch(/ingress\.openai\.pathPrefix/)
    expect(await message({ routes: [{ path: "/x", format: "openai", model: "../m" }] })).toMatch(
      /ingress\.routes\[0\]\.model/,
    )
    expect(await message({ typo: {} })).toMatch(/ingress\.typo/)
  })
})
