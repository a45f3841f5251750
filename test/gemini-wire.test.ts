/**
 * The Gemini ingress on the wire, for what the SDK does not exercise: the JSON-array stream (no
 * `alt=sse`), snake_case bodies, credentials in each of Google's places, the `/v1/models` path
 * shared with OpenAI, the path prefix, raw mid-stream error framing and bad input.
 */
import { GoogleGenAI } from "@google/genai"
import { GeminiUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const key = "sk-gemini-wire-test-0001"
let gw: RunningGateway
let upstream: GeminiUpstream.GeminiMock

beforeAll(async () => {
  upstream = await GeminiUpstream.start()
  gw = await startGateway({
    providers: { mock: { type: "mock" }, google: { type: "gemini", apiKey: "k", baseUrl: upstream.url } },
    models: {
      mock: { provider: "mock", model: "mock" },
      "gemini-2.5-flash": { provider: "google", model: "gemini-2.5-flash" },
    },
    keys: [{ name: "wire-test", key }],
    ingress: { gemini: { pathPrefix: "/gemini" } },
    resilience: { circuitBreaker: { failures: 1000 } },
  })
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
})

const post = (path: string, body: unknown, headers: Record<string, string> = { "x-goog-api-key": key }) =>
  fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  })

const hello = { contents: [{ role: "user", parts: [{ text: "hello wire" }] }] }

describe("credentials", () => {
  it.each([
    ["?key=", "/v1beta/models/mock:generateContent?key=" + key, {}],
    ["x-goog-api-key", "/v1beta/models/mock:generateContent", { "x-goog-api-key": key }],
    ["Authorization: Bearer", "/v1beta/models/mock:generateContent", { authorization: `Bearer ${key}` }],
    [
      "an empty x-goog-api-key plus Bearer",
      "/v1beta/models/mock:generateContent",
      { "x-goog-api-key": "", authorization: `Bearer ${key}` },
    ],
  ])("accepts the key in %s", async (_, path, headers) => {
    const res = await post(path, hello, headers as Record<string, string>)
    expect(res.status).toBe(200)
    expect((await res.json()).candidates[0].content.parts[0].text).toBe("echo: hello wire")
  })

  it("refuses a missing or wrong key in Google's shape, without echoing it", async () => {
    for (const headers of [{}, { "x-goog-api-key": "sk-wrong-key-000000000" }]) {
      const res = await post("/v1beta/models/mock:generateContent", hello, headers)
      expect(res.status).toBe(401)
      const body = await res.json()
      expect(body.error).toMatchObject({ code: 401, status: "UNAUTHENTICATED" })
      expect(JSON.stringify(body)).not.toContain("sk-wrong-key")
    }
  })
})

describe("streamGenerateContent", () => {
  it("without alt=sse answers one JSON array, written element by element", async () => {
    const res = await post("/v1beta/models/mock:streamGenerateContent", {
      contents: [{ role: "user", parts: [{ text: "array mode has several words" }] }],
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("application/json")
    const reads: Array<string> = []
    const decoder = new TextDecoder()
    const reader = res.body!.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) reads.push(decoder.decode(r.value))
    const text = reads.join("")
    expect(text.startsWith("[")).toBe(true)
    const chunks = JSON.parse(text) as Array<{
      candidates: Array<{ content?: { parts: Array<{ text: string }> }; finishReason?: string }>
    }>
    expect(chunks.length).toBeGreaterThan(2)
    expect(chunks.map((c) => c.candidates[0]?.content?.parts[0]?.text ?? "").join("")).toBe(
      "echo: array mode has several words",
    )
    expect(chunks.at(-1)?.candidates[0]?.finishReason).toBe("STOP")
  })

  it("alt=sse frames each chunk as one data: line, with no event: lines and no [DONE]", async () => {
    const res = await post("/v1beta/models/mock:streamGenerateContent?alt=sse", hello)
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const text = await res.text()
    const events = text.split("\n\n").filter((e) => e !== "")
    expect(events.length).toBeGreaterThan(1)
    for (const e of events) expect(e).toMatch(/^data: \{.*\}$/)
    expect(text).not.toContain("[DONE]")
    expect(text).not.toContain("event:")
  })

  it("a failure after the first chunk ends the SSE body with a bare Google error object", async () => {
    upstream.script({
      resetAfter: [
        {
          candidates: [{ content: { role: "model", parts: [{ text: "par" }] }, index: 0 }],
          responseId: "r",
          modelVersion: "gemini-2.5-flash",
        },
      ],
    })
    const text = await (await post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", hello)).text()
    const last = text.trimEnd().split("\n").at(-1)!
    expect(text.startsWith('data: {"candidates"')).toBe(true)
    expect(JSON.parse(last)).toMatchObject({ error: { code: 502, status: "UNAVAILABLE" } })
  })

  it("… and the JSON array with an error element, still a valid array", async () => {
    upstream.script({
      resetAfter: [
        {
          candidates: [{ content: { role: "model", parts: [{ text: "par" }] }, index: 0 }],
          responseId: "r",
          modelVersion: "gemini-2.5-flash",
        },
      ],
    })
    const body = JSON.parse(await (await post("/v1beta/models/gemini-2.5-flash:streamGenerateContent", hello)).text())
    expect(body).toHaveLength(2)
    expect(body[1]).toMatchObject({ error: { code: 502, status: "UNAVAILABLE" } })
  })

  it("an upstream error before the first chunk is an HTTP error, in either mode", async () => {
    for (const alt of ["?alt=sse", ""]) {
      upstream.script({ error: 503, message: "The model is overloaded. Please try again later." })
      const res = await post(`/v1beta/models/gemini-2.5-flash:streamGenerateContent${alt}`, hello)
      expect(res.status).toBe(503)
      expect((await res.json()).error).toEqual({
        code: 503,
        message: "The model is overloaded. Please try again later.",
        status: "UNAVAILABLE",
      })
    }
  })
})

describe("requests", () => {
  it("accepts snake_case fields as curl users send them", async () => {
    const res = await post("/v1beta/models/gemini-2.5-flash:generateContent", {
      system_instruction: { parts: [{ text: "be terse" }] },
      contents: [{ role: "user", parts: [{ text: "snake" }] }],
      generation_config: { max_output_tokens: 100, thinking_config: { thinking_budget: 0 } },
      safety_settings: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_NONE" }],
    })
    expect(res.status).toBe(200)
    expect(upstream.generateBodies().at(-1)).toEqual({
      contents: [{ role: "user", parts: [{ text: "snake" }] }],
      systemInstruction: { parts: [{ text: "be terse" }] },
      generationConfig: { maxOutputTokens: 100, thinkingConfig: { thinkingBudget: 0 } },
      safetySettings: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_NONE" }],
    })
  })

  it("routes model ids that contain a slash", async () => {
    const res = await post("/v1beta/models/mock/mock:generateContent", hello)
    expect(res.status).toBe(200)
    expect(res.headers.get("x-sluice-target")).toBe("mock/mock")
  })

  it.each([
    ["malformed JSON", "{not json", undefined],
    ["a part with no data", { contents: [{ role: "user", parts: [{}] }] }, "contents[0].parts[0]"],
    ["a wrongly typed field", { contents: [{ role: "user", parts: [{ text: 1 }] }] }, "contents[0].parts[0].text"],
    [
      "an unsupported part",
      { contents: [{ parts: [{ executableCode: { language: "PYTHON", code: "1" } }] }] },
      "contents[0].parts[0].executableCode",
    ],
  ])("answers %s with INVALID_ARGUMENT naming the field", async (_, body, field) => {
    const res = await post("/v1beta/models/mock:generateContent", body)
    expect(res.status).toBe(400)
    const { error } = await res.json()
    expect(error.status).toBe("INVALID_ARGUMENT")
    if (field !== undefined) {
      expect(error.message).toContain(field)
      expect(error.details[0].fieldViolations[0].field).toBe(field)
    }
  })

  it("countTokens takes the generateContentRequest form too", async () => {
    const res = await post("/v1beta/models/mock:countTokens", {
      generateContentRequest: { model: "models/mock", ...hello, systemInstruction: { parts: [{ text: "12345678" }] } },
    })
    expect(await res.json()).toEqual({ totalTokens: 5 })
  })
})

describe("models and routing", () => {
  it("claims GET /v1/models only for Google's clients", async () => {
    const gemini = await fetch(`${gw.url}/v1/models`, { headers: { "x-goog-api-key": key } })
    expect((await gemini.json()).models.map((m: { name: string }) => m.name)).toEqual([
      "models/mock",
      "models/gemini-2.5-flash",
    ])
    const viaQuery = await fetch(`${gw.url}/v1/models?key=${key}`)
    expect((await viaQuery.json()).models).toHaveLength(2)
    const openai = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })
    expect(await openai.json()).not.toHaveProperty("models")
  })

  it("pages the model list", async () => {
    const first = await (await fetch(`${gw.url}/v1beta/models?pageSize=1&key=${key}`)).json()
    expect(first.models.map((m: { name: string }) => m.name)).toEqual(["models/mock"])
    const second = await (
      await fetch(`${gw.url}/v1beta/models?pageSize=1&pageToken=${first.nextPageToken}&key=${key}`)
    ).json()
    expect(second).toEqual({
      models: [
        {
          name: "models/gemini-2.5-flash",
          baseModelId: "gemini-2.5-flash",
          displayName: "gemini-2.5-flash",
          supportedGenerationMethods: ["generateContent", "countTokens", "embedContent", "batchEmbedContents"],
        },
      ],
    })
    const missing = await fetch(`${gw.url}/v1beta/models/nope?key=${key}`)
    expect(missing.status).toBe(404)
    expect((await missing.json()).error.status).toBe("NOT_FOUND")
  })

  it("serves everything under the configured path prefix, for the SDK too", async () => {
    const ai = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: `${gw.url}/gemini` } })
    expect((await ai.models.generateContent({ model: "mock", contents: "prefixed" })).text).toBe("echo: prefixed")
    const v1 = new GoogleGenAI({ apiKey: key, apiVersion: "v1", httpOptions: { baseUrl: `${gw.url}/gemini` } })
    expect((await v1.models.generateContent({ model: "mock", contents: "v1" })).text).toBe("echo: v1")
  })

  it("a bad ingress.gemini section fails at start, naming the key", async () => {
    await expect(
      startGateway({ providers: { mock: { type: "mock" } }, ingress: { gemini: { pathPrefix: "gemini/" } } }),
    ).rejects.toThrow(/ingress\.gemini\.pathPrefix/)
    await expect(
      startGateway({ providers: { mock: { type: "mock" } }, ingress: { gemini: { prefix: "/x" } } }),
    ).rejects.toThrow(/ingress\.gemini\.prefix/)
  })
})
