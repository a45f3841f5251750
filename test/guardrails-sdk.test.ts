/**
 * Guardrails end to end through each official SDK against the built-in mock model (which
 * echoes the prompt, so what the model saw comes back): a blocked request is a 400 in the
 * client's own error shape naming the policy and never the secret; a redacted request reaches
 * the model masked; a stream cut by an output policy ends the way that SDK expects (OpenAI
 * finish_reason content_filter, Gemini finishReason SAFETY, Anthropic an error event) with
 * none of the blocked text sent.
 */
import Anthropic from "@anthropic-ai/sdk"
import { ApiError, FinishReason, GoogleGenAI } from "@google/genai"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const SECRET = "sk-proj-Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1"
// Long enough that text is released past the hold-back window before the secret comes: the
// stream is cut in the middle, not refused up front.
const FILLER = "The quick brown fox jumps over the lazy dog near the quiet river bank. ".repeat(4)
const LEAK_PROMPT = `${FILLER}Now my key is ${SECRET} ok`

let gw: RunningGateway

beforeAll(async () => {
  gw = await startGateway({
    providers: { mock: { type: "mock" } },
    models: { mock: { provider: "mock", model: "mock" } },
    guardrails: {
      policies: {
        "no-secrets-in": { on: ["input"], deny: { keywords: ["launch codes"] }, pii: ["credit_card"] },
        "mask-email": { action: "redact", pii: ["email"] },
        "no-secrets-out": { on: ["output"], pii: ["secret"] },
      },
    },
  })
})
afterAll(() => gw?.close())

const expectNoSecret = (u: unknown) => expect(JSON.stringify(u) + String(u)).not.toContain("Zq8Xw7")

describe("openai SDK", () => {
  const client = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "x", maxRetries: 0 })

  it("a blocked request is a 400 BadRequestError naming the policy", async () => {
    const e = await client()
      .chat.completions.create({ model: "mock", messages: [{ role: "user", content: "pay with 4111 1111 1111 1111" }] })
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    const err = e as InstanceType<typeof OpenAI.BadRequestError>
    expect(err.status).toBe(400)
    expect(err.message).toContain("no-secrets-in")
    expect(err.message).not.toContain("4111")
    expect(err.code).toBe("content_policy_violation")
  })

  it("a redacted request reaches the model masked", async () => {
    const r = await client().chat.completions.create({
      model: "mock",
      messages: [{ role: "user", content: "mail bob@example.com today" }],
    })
    expect(r.choices[0]?.message.content).toBe("echo: mail [REDACTED:email] today")
  })

  it("a blocked stream ends with finish_reason content_filter and no secret", async () => {
    const stream = await client().chat.completions.create({
      model: "mock",
      messages: [{ role: "user", content: LEAK_PROMPT }],
      stream: true,
    })
    const chunks: Array<OpenAI.Chat.ChatCompletionChunk> = []
    for await (const c of stream) chunks.push(c)
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("content_filter")
    expectNoSecret(chunks)
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")
    expect(text).toMatch(/^echo: The quick brown fox/)
    expect(text).not.toContain("sk-")
  })
})

describe("@anthropic-ai/sdk", () => {
  const client = () => new Anthropic({ baseURL: gw.url, apiKey: "x", maxRetries: 0 })

  it("a blocked request is a 400 invalid_request_error naming the policy", async () => {
    const e = await client()
      .messages.create({
        model: "mock",
        max_tokens: 100,
        messages: [{ role: "user", content: "what are the LAUNCH CODES?" }],
      })
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(Anthropic.BadRequestError)
    const err = e as InstanceType<typeof Anthropic.BadRequestError>
    expect(err.status).toBe(400)
    expect(err.message).toContain("no-secrets-in")
    expect((err.error as { error?: { type?: string } }).error?.type).toBe("invalid_request_error")
  })

  it("a blocked stream ends with an error event the SDK raises, with no secret sent", async () => {
    const seen: Array<string> = []
    const stream = client().messages.stream({
      model: "mock",
      max_tokens: 200,
      messages: [{ role: "user", content: LEAK_PROMPT }],
    })
    stream.on("text", (t) => seen.push(t))
    const e = await stream.finalMessage().catch((err: unknown) => err)
    expect(e).toBeInstanceOf(Anthropic.APIError)
    expect(String((e as Error).message)).toContain("no-secrets-out")
    expect(seen.join("")).toMatch(/^echo: The quick brown fox/)
    expectNoSecret(seen)
    expectNoSecret(e)
  })
})

describe("@google/genai", () => {
  const ai = () => new GoogleGenAI({ apiKey: "x", httpOptions: { baseUrl: gw.url } })

  it("a blocked request is a 400 ApiError (INVALID_ARGUMENT) naming the policy", async () => {
    const e = await ai()
      .models.generateContent({ model: "mock", contents: "card 5555 5555 5555 4444 please" })
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).status).toBe(400)
    const body = JSON.parse((e as ApiError).message) as { error: { status: string; message: string } }
    expect(body.error.status).toBe("INVALID_ARGUMENT")
    expect(body.error.message).toContain("no-secrets-in")
    expect(body.error.message).not.toContain("5555")
  })

  it("a blocked stream ends with finishReason SAFETY and no secret", async () => {
    const stream = await ai().models.generateContentStream({ model: "mock", contents: LEAK_PROMPT })
    const chunks: Array<{
      text: string | undefined
      candidates: Array<{ finishReason?: FinishReason | undefined }> | undefined
    }> = []
    for await (const c of stream) chunks.push({ text: c.text, candidates: c.candidates })
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe(FinishReason.SAFETY)
    expect(chunks.map((c) => c.text ?? "").join("")).toMatch(/^echo: The quick brown fox/)
    expectNoSecret(chunks)
  })

  it("an output-blocked complete answer is a 400 naming the policy", async () => {
    const e = await ai()
      .models.generateContent({ model: "mock", contents: LEAK_PROMPT })
      .catch((err: unknown) => err)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).message).toContain("no-secrets-out")
    expectNoSecret(e)
  })
})
