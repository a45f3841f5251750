/**
 * Virtual keys, rate limits and budgets as each official SDK sees them: the 401, 403 and 429
 * the gateway answers parse as that SDK's own error classes with the right status (and
 * retry-after on 429), and a good key's answers carry the x-ratelimit-* headers.
 */
import Anthropic from "@anthropic-ai/sdk"
import { ApiError, GoogleGenAI } from "@google/genai"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const keys = {
  good: "sk-test-good-0123456789abcdef",
  narrow: "sk-test-narrow-0123456789abcdef",
  broke: "sk-test-broke-0123456789abcdef",
  openai1: "sk-test-openai-rpm1-0123456789",
  anthropic1: "sk-test-anthropic-rpm1-01234567",
  gemini1: "sk-test-gemini-rpm1-0123456789",
}
const unknown = "sk-test-unknown-0123456789abcdef"

let gw: RunningGateway
beforeAll(async () => {
  gw = await startGateway({
    providers: { mock: { type: "mock" } },
    models: { mock: { provider: "mock", model: "mock" }, other: { provider: "mock", model: "other" } },
    keys: [
      { name: "good", key: keys.good, rateLimit: { rpm: 1000, tpm: 1_000_000 } },
      { name: "narrow", key: keys.narrow, models: ["other"] },
      { name: "broke", key: keys.broke, budget: { usd: 0 } },
      { name: "openai-rpm1", key: keys.openai1, rateLimit: { rpm: 1 } },
      { name: "anthropic-rpm1", key: keys.anthropic1, rateLimit: { rpm: 1 } },
      { name: "gemini-rpm1", key: keys.gemini1, rateLimit: { rpm: 1 } },
    ],
    prices: { mock: { input: 1, output: 2 }, other: { input: 1, output: 2 } },
  })
})
afterAll(() => gw?.close())

const noSecret = (e: unknown) => {
  const text = `${(e as Error).message} ${JSON.stringify(e)}`
  for (const k of [...Object.values(keys), unknown]) expect(text).not.toContain(k)
}

describe("openai SDK", () => {
  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0 })
  const ask = (apiKey: string, model = "mock") =>
    client(apiKey).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] })

  it("a good key: 200 with x-ratelimit-* headers (streamed too)", async () => {
    const { data, response } = await client(keys.good)
      .chat.completions.create({ model: "mock", messages: [{ role: "user", content: "hi" }] })
      .withResponse()
    expect(data.choices[0]!.message.content).toBe("echo: hi")
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("1000")
    expect(Number(response.headers.get("x-ratelimit-remaining-requests"))).toBeLessThan(1000)
    expect(response.headers.get("x-ratelimit-limit-tokens")).toBe("1000000")
    expect(response.headers.get("x-ratelimit-reset-tokens")).toMatch(/ms$|s$/)
    const { data: stream, response: sr } = await client(keys.good)
      .chat.completions.create({ model: "mock", stream: true, messages: [{ role: "user", content: "hi" }] })
      .withResponse()
    expect(sr.headers.get("x-ratelimit-limit-requests")).toBe("1000")
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ""
    expect(text).toBe("echo: hi")
  })

  it("401 AuthenticationError for a missing or unknown key, not echoed", async () => {
    const e = await ask(unknown).catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(e.status).toBe(401)
    noSecret(e)
  })

  it("403 PermissionDeniedError for a model outside the key's list, and for a spent budget", async () => {
    const e = await ask(keys.narrow).catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(e.status).toBe(403)
    expect(e.message).toContain('may not use model "mock"')
    expect((await ask(keys.narrow, "other")).choices[0]!.message.content).toBe("echo: hi")
    const b = await ask(keys.broke).catch((x) => x)
    expect(b).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(b.message).toContain("budget exhausted")
  })

  it("429 RateLimitError with retry-after", async () => {
    await ask(keys.openai1)
    const e = await ask(keys.openai1).catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.RateLimitError)
    expect(e.status).toBe(429)
    expect(Number(e.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    noSecret(e)
  })
})

describe("@anthropic-ai/sdk", () => {
  const client = (apiKey: string) => new Anthropic({ apiKey, baseURL: gw.url, maxRetries: 0 })
  const ask = (apiKey: string, model = "mock") =>
    client(apiKey).messages.create({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }] })

  it("a good key: 200 with x-ratelimit-* headers", async () => {
    const { response } = await client(keys.good)
      .messages.create({ model: "mock", max_tokens: 50, messages: [{ role: "user", content: "hi" }] })
      .withResponse()
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("1000")
  })

  it("401 AuthenticationError (authentication_error)", async () => {
    const e = await ask(unknown).catch((x) => x)
    expect(e).toBeInstanceOf(Anthropic.AuthenticationError)
    expect(e.status).toBe(401)
    expect(e.error?.error?.type).toBe("authentication_error")
    noSecret(e)
  })

  it("403 PermissionDeniedError (permission_error)", async () => {
    const e = await ask(keys.narrow).catch((x) => x)
    expect(e).toBeInstanceOf(Anthropic.PermissionDeniedError)
    expect(e.status).toBe(403)
    expect(e.error?.error?.type).toBe("permission_error")
  })

  it("429 RateLimitError (rate_limit_error) with retry-after", async () => {
    await ask(keys.anthropic1)
    const e = await ask(keys.anthropic1).catch((x) => x)
    expect(e).toBeInstanceOf(Anthropic.RateLimitError)
    expect(e.status).toBe(429)
    expect(e.error?.error?.type).toBe("rate_limit_error")
    expect(Number(e.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
  })
})

describe("@google/genai", () => {
  const client = (apiKey: string) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: gw.url } })
  const ask = (apiKey: string, model = "mock") => client(apiKey).models.generateContent({ model, contents: "hi" })
  const apiError = async (p: Promise<unknown>, status: number, rpc: string) => {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    )
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).status).toBe(status)
    const body = JSON.parse((e as ApiError).message) as { error: { code: number; status: string; message: string } }
    expect(body.error).toMatchObject({ code: status, status: rpc })
    noSecret(e)
    return body.error
  }

  it("a good key answers", async () => {
    expect((await ask(keys.good)).text).toBe("echo: hi")
  })

  it("401 UNAUTHENTICATED", async () => {
    await apiError(ask(unknown), 401, "UNAUTHENTICATED")
  })

  it("403 PERMISSION_DENIED", async () => {
    const e = await apiError(ask(keys.narrow), 403, "PERMISSION_DENIED")
    expect(e.message).toContain("mock")
  })

  it("429 RESOURCE_EXHAUSTED", async () => {
    await ask(keys.gemini1)
    await apiError(ask(keys.gemini1), 429, "RESOURCE_EXHAUSTED")
  })
})
