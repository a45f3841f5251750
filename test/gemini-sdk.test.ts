/**
 * @google/genai (the official SDK, pinned) against the running gateway, routed to the built-in
 * `mock` provider and to the mock Gemini upstream. For the upstream, the same call made straight
 * to the mock must give the same answer through Sluice: that is "exactly what Google returns".
 */
import { ApiError, type Content, GoogleGenAI, HarmBlockThreshold, HarmCategory, type Part } from "@google/genai"
import { GeminiUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let gw: RunningGateway
let upstream: GeminiUpstream.GeminiMock
let ai: GoogleGenAI
let direct: GoogleGenAI

const png1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

beforeAll(async () => {
  upstream = await GeminiUpstream.start({ apiKey: "upstream-secret" })
  gw = await startGateway({
    providers: {
      mock: { type: "mock" },
      google: { type: "gemini", apiKey: "upstream-secret", baseUrl: upstream.url },
    },
    models: {
      mock: { provider: "mock", model: "mock" },
      "gemini-2.5-flash": { provider: "google", model: "gemini-2.5-flash" },
      "gemini-embedding-001": { provider: "google", model: "gemini-embedding-001" },
    },
    // The error tests fail on purpose, many times: keep the circuit breaker out of the way.
    resilience: { circuitBreaker: { failures: 1000 } },
  })
  ai = new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: gw.url } })
  direct = new GoogleGenAI({ apiKey: "upstream-secret", httpOptions: { baseUrl: upstream.url } })
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
})

/** A response as plain JSON, without what differs per call (transport headers, ids). */
const plain = (r: unknown) => {
  const o = JSON.parse(JSON.stringify(r)) as Record<string, unknown>
  delete o.sdkHttpResponse
  delete o.responseId
  return o
}

const weather = {
  name: "get_weather",
  description: "Current weather for a city",
  parametersJsonSchema: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["C", "F"] } },
    required: ["city"],
  },
}

const expectApiError = async (p: Promise<unknown>, status: number, rpc: string) => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(ApiError)
  expect((e as ApiError).status).toBe(status)
  const body = JSON.parse((e as ApiError).message) as { error: { code: number; status: string; message: string } }
  expect(body.error.code).toBe(status)
  expect(body.error.status).toBe(rpc)
  return body.error
}

describe("@google/genai → Sluice → Gemini upstream", () => {
  it("generateContent gives exactly what the upstream gives", async () => {
    const via = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "Say hello to the gateway" })
    const straight = await direct.models.generateContent({
      model: "gemini-2.5-flash",
      contents: "Say hello to the gateway",
    })
    expect(via.text).toBe("Echo: Say hello to the gateway")
    expect(plain(via)).toEqual(plain(straight))
    expect(via.responseId).toMatch(/^[A-Za-z0-9_-]{10,}$/)
    expect(via.modelVersion).toBe("gemini-2.5-flash")
    expect(via.candidates?.[0]?.content?.role).toBe("model")
    expect(via.candidates?.[0]?.finishReason).toBe("STOP")
    expect(via.usageMetadata?.totalTokenCount).toBe(
      (via.usageMetadata?.promptTokenCount ?? 0) +
        (via.usageMetadata?.candidatesTokenCount ?? 0) +
        (via.usageMetadata?.thoughtsTokenCount ?? 0),
    )
    // The gateway sent the configured key upstream, not the client's.
    expect(upstream.requests.at(-2)?.headers["x-goog-api-key"]).toBe("upstream-secret")
  })

  it("generateContentStream streams several chunks; the last carries finishReason and usage", async () => {
    const prompt = "one two three four five six seven"
    const chunks = []
    for await (const c of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: prompt }))
      chunks.push(c)
    expect(chunks.length).toBeGreaterThanOrEqual(3)
    expect(chunks.map((c) => c.text ?? "").join("")).toBe(`Echo: ${prompt}`)
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe("STOP")
    expect(chunks.slice(0, -1).every((c) => c.candidates?.[0]?.finishReason === undefined)).toBe(true)
    expect(chunks.at(-1)?.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0)
    expect(new Set(chunks.map((c) => c.responseId)).size).toBe(1)
    expect(chunks.every((c) => c.modelVersion === "gemini-2.5-flash")).toBe(true)
  })

  it("keeps thought signatures through a function-calling round trip (call → functionResponse → answer)", async () => {
    const config = { tools: [{ functionDeclarations: [weather] }] }
    const user: Content = { role: "user", parts: [{ text: "Use get_weather for Paris" }] }
    const first = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: [user], config })
    const call = first.functionCalls?.[0]
    expect(call?.name).toBe("get_weather")
    expect(call?.args).toEqual({ city: "sample" })
    expect(call?.id).toBeUndefined() // Google's Developer API sends no id; neither does Sluice.
    const modelTurn = first.candidates?.[0]?.content as Content
    const sig = modelTurn.parts?.[0]?.thoughtSignature
    expect(sig).toBeDefined()
    expect(upstream.signatures.has(sig!)).toBe(true)
    // The mock upstream answers 400 "missing/corrupted thought signature" unless it comes back intact.
    const second = await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: [
        user,
        modelTurn,
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "18C" } } }] },
      ],
      config,
    })
    expect(second.text).toBe('Results: get_weather → {"output":"18C"}')
    const sent = upstream.generateBodies().at(-1) as { contents: Array<{ parts: Array<Part> }> }
    expect(sent.contents[1]?.parts[0]?.thoughtSignature).toBe(sig)
    expect(sent.contents[1]?.parts[0]?.functionCall).toEqual({ name: "get_weather", args: { city: "sample" } })
  })

  it("streams a function call whole in one chunk, with its signature", async () => {
    upstream.script({
      calls: [
        { name: "get_weather", args: { city: "Oslo", unit: "C" } },
        { name: "get_weather", args: { city: "Rome" } },
      ],
    })
    const chunks = []
    for await (const c of await ai.models.generateContentStream({
      model: "gemini-2.5-flash",
      contents: "weather in Oslo and Rome",
      config: { tools: [{ functionDeclarations: [weather] }] },
    }))
      chunks.push(c)
    const calls = chunks.flatMap((c) => c.functionCalls ?? [])
    expect(calls.map((c) => c.args)).toEqual([{ city: "Oslo", unit: "C" }, { city: "Rome" }])
    const signed = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts ?? []).filter((p) => p.thoughtSignature)
    expect(signed).toHaveLength(1)
    expect(upstream.signatures.has(signed[0]!.thoughtSignature!)).toBe(true)
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe("STOP")
  })

  it("a streamed chat keeps signatures across turns (chats API history, call → functionResponse → answer)", async () => {
    const chat = ai.chats.create({
      model: "gemini-2.5-flash",
      config: { tools: [{ functionDeclarations: [weather] }] },
    })
    const calls = []
    for await (const c of await chat.sendMessageStream({ message: "please get_weather for Lima" }))
      calls.push(...(c.functionCalls ?? []))
    expect(calls.map((c) => c.name)).toEqual(["get_weather"])
    let answer = ""
    for await (const c of await chat.sendMessageStream({
      message: [{ functionResponse: { name: "get_weather", response: { output: "21C" } } }],
    }))
      answer += c.text ?? ""
    expect(answer).toBe('Results: get_weather → {"output":"21C"}')
    const sent = upstream.generateBodies().at(-1) as { contents: Array<{ role: string; parts: Array<Part> }> }
    expect(sent.contents.map((c) => c.role)).toEqual(["user", "model", "user"])
    expect(upstream.signatures.has(sent.contents[1]!.parts.find((p) => p.functionCall)!.thoughtSignature!)).toBe(true)
  })

  it("passes image input through as inlineData", async () => {
    await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: [
        { role: "user", parts: [{ text: "What is this?" }, { inlineData: { mimeType: "image/png", data: png1x1 } }] },
      ],
    })
    const sent = upstream.generateBodies().at(-1) as { contents: Array<{ parts: Array<Part> }> }
    expect(sent.contents[0]?.parts[1]).toEqual({ inlineData: { mimeType: "image/png", data: png1x1 } })
  })

  it("returns thoughts (thought: true parts) and thoughtsTokenCount", async () => {
    const r = await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: "Think first",
      config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } },
    })
    const parts = r.candidates?.[0]?.content?.parts ?? []
    expect(parts[0]?.thought).toBe(true)
    expect(parts[0]?.text).toContain("Considering")
    expect(r.text).toBe("Echo: Think first")
    expect(r.usageMetadata?.thoughtsTokenCount).toBeGreaterThan(0)
    const sent = upstream.generateBodies().at(-1) as { generationConfig: unknown }
    expect(sent.generationConfig).toEqual({ thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } })
  })

  it("sends Gemini-only fields (safetySettings) on to the Gemini upstream", async () => {
    const safetySettings = [
      { category: HarmCategory.HARM_CATEGORY_HATE_SPEECH, threshold: HarmBlockThreshold.BLOCK_ONLY_HIGH },
    ]
    await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi", config: { safetySettings } })
    expect((upstream.generateBodies().at(-1) as { safetySettings: unknown }).safetySettings).toEqual(safetySettings)
  })

  it("embedContent and batch embeddings match the upstream's", async () => {
    const via = await ai.models.embedContent({ model: "gemini-embedding-001", contents: ["alpha", "beta"] })
    const straight = await direct.models.embedContent({ model: "gemini-embedding-001", contents: ["alpha", "beta"] })
    expect(via.embeddings).toHaveLength(2)
    expect(via.embeddings).toEqual(straight.embeddings)
    const one = await ai.models.embedContent({
      model: "gemini-embedding-001",
      contents: "alpha",
      config: { outputDimensionality: 8, taskType: "RETRIEVAL_QUERY" },
    })
    expect(one.embeddings?.[0]?.values).toHaveLength(8)
    const sent = upstream.requests.at(-1)?.body as { requests: Array<Record<string, unknown>> }
    expect(sent.requests[0]).toMatchObject({ model: "models/gemini-embedding-001", taskType: "RETRIEVAL_QUERY" })
  })

  it("countTokens asks the upstream", async () => {
    const via = await ai.models.countTokens({ model: "gemini-2.5-flash", contents: "count these tokens please" })
    const straight = await direct.models.countTokens({
      model: "gemini-2.5-flash",
      contents: "count these tokens please",
    })
    expect(via.totalTokens).toBe(straight.totalTokens)
  })

  it("an upstream 429 arrives as RESOURCE_EXHAUSTED with its retry delay", async () => {
    upstream.script({ error: 429, message: "Quota exceeded", retryDelay: "9s" })
    const e = await expectApiError(
      ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" }),
      429,
      "RESOURCE_EXHAUSTED",
    )
    expect(JSON.stringify(e)).toContain('"retryDelay":"9s"')
  })

  it("an upstream stream that breaks mid-way fails the SDK's iteration", async () => {
    upstream.script({
      resetAfter: [
        {
          candidates: [{ content: { role: "model", parts: [{ text: "partial " }] }, index: 0 }],
          modelVersion: "gemini-2.5-flash",
          responseId: "r1",
        },
      ],
    })
    const texts: Array<string> = []
    const run = async () => {
      for await (const c of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" }))
        texts.push(c.text ?? "")
    }
    const e = await run().then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).status).toBe(502)
    expect(texts).toEqual(["partial "])
  })
})

describe("@google/genai → Sluice → built-in mock provider", () => {
  it("generateContent and generateContentStream", async () => {
    const r = await ai.models.generateContent({ model: "mock", contents: "hello mock" })
    expect(r.text).toBe("echo: hello mock")
    expect(r.candidates?.[0]?.finishReason).toBe("STOP")
    expect(r.modelVersion).toBe("mock")
    expect(r.usageMetadata?.promptTokenCount).toBeGreaterThan(0)
    const chunks = []
    for await (const c of await ai.models.generateContentStream({ model: "mock", contents: "stream this please now" }))
      chunks.push(c)
    expect(chunks.map((c) => c.text ?? "").join("")).toBe("echo: stream this please now")
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe("STOP")
  })

  it("tool call round trip: gathered argument deltas arrive as one whole functionCall", async () => {
    const config = { tools: [{ functionDeclarations: [weather] }] }
    const chunks = []
    for await (const c of await ai.models.generateContentStream({
      model: "mock",
      contents: "call get_weather please",
      config,
    }))
      chunks.push(c)
    const calls = chunks.flatMap((c) => c.functionCalls ?? [])
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ name: "get_weather", args: { city: "mock" } })
    const callChunk = chunks.find((c) => c.functionCalls !== undefined)!
    const second = await ai.models.generateContent({
      model: "mock",
      contents: [
        { role: "user", parts: [{ text: "call get_weather please" }] },
        callChunk.candidates![0]!.content!,
        {
          role: "user",
          parts: [{ functionResponse: { id: calls[0]!.id!, name: "get_weather", response: { output: "sunny" } } }],
        },
      ],
      config,
    })
    expect(second.text).toBe('tool result: get_weather={"output":"sunny"}')
  })

  it("thinking comes back as a signed thought part", async () => {
    const r = await ai.models.generateContent({
      model: "mock",
      contents: "ponder",
      config: { thinkingConfig: { includeThoughts: true } },
    })
    const thought = r.candidates?.[0]?.content?.parts?.[0]
    expect(thought?.thought).toBe(true)
    expect(thought?.thoughtSignature).toMatch(/^mock-sig-/)
    expect(r.usageMetadata?.thoughtsTokenCount).toBeGreaterThan(0)
  })

  it("embeddings, countTokens and models.list", async () => {
    const e = await ai.models.embedContent({ model: "mock", contents: ["a", "b", "c"] })
    expect(e.embeddings?.map((x) => x.values?.length)).toEqual([8, 8, 8])
    const t = await ai.models.countTokens({ model: "mock", contents: "12345678" })
    expect(t.totalTokens).toBe(2)
    const names: Array<string | undefined> = []
    for await (const m of await ai.models.list()) names.push(m.name)
    expect(names).toEqual(["models/mock", "models/gemini-2.5-flash", "models/gemini-embedding-001"])
    const one = await ai.models.get({ model: "gemini-2.5-flash" })
    expect(one.name).toBe("models/gemini-2.5-flash")
  })

  it("answers every status in Google's shape", async () => {
    const cases: Array<[number, string]> = [
      [400, "INVALID_ARGUMENT"],
      [401, "UNAUTHENTICATED"],
      [403, "PERMISSION_DENIED"],
      [404, "NOT_FOUND"],
      [429, "RESOURCE_EXHAUSTED"],
      [500, "INTERNAL"],
      [503, "UNAVAILABLE"],
      [504, "DEADLINE_EXCEEDED"],
    ]
    for (const [status, rpc] of cases) {
      await expectApiError(ai.models.generateContent({ model: "mock", contents: `fail:${status}` }), status, rpc)
      // Before the first chunk a stream fails with the real HTTP status too.
      await expectApiError(
        (async () => {
          for await (const _ of await ai.models.generateContentStream({ model: "mock", contents: `fail:${status}` })) {
          }
        })(),
        status,
        rpc,
      )
    }
  })

  it("rejects what the target cannot serve, naming it", async () => {
    const e = await expectApiError(
      ai.models.generateContent({ model: "mock", contents: "hi", config: { candidateCount: 2 } }),
      400,
      "INVALID_ARGUMENT",
    )
    expect(e.message).toMatch(/^generationConfig.candidateCount 2 is not supported/)
    const notFound = await expectApiError(
      ai.models.generateContent({ model: "no-such-model", contents: "hi" }),
      404,
      "NOT_FOUND",
    )
    expect(notFound.message).toContain("no-such-model")
  })
})
