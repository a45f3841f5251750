import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Chunk, Effect, ManagedRuntime, Redacted, Stream } from "effect"
import type { ChatRequest, GatewayError } from "@sluice/schema"
import { GeminiUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Provider from "../src/Provider.ts"
import * as Response from "../src/Response.ts"

const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
let upstream: GeminiUpstream.GeminiMock
let client: HttpClient.HttpClient
beforeAll(async () => {
  upstream = await GeminiUpstream.start({ apiKey: "right-key", chunkDelayMs: 30 })
  client = await runtime.runPromise(HttpClient.HttpClient)
})
afterAll(async () => {
  await upstream?.close()
  await runtime.dispose()
})

const provider = (apiKey = "right-key", baseUrl = upstream.url) =>
  Provider.make("google", { type: "gemini", apiKey: Redacted.make(apiKey), baseUrl }, client)
const ctx = { requestId: "t" }
const chat = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
  model: "gemini-2.5-flash",
  messages: [{ role: "user", parts: [{ type: "text", text: "hi there" }] }],
  stream: false,
  ...overrides,
})
const fail = <A>(e: Effect.Effect<A, GatewayError>) => Effect.runPromise(Effect.flip(e))

describe("gemini provider", () => {
  it.each([
    ["https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com/v1beta"],
    ["https://proxy.example/google/", "https://proxy.example/google/v1beta"],
    ["https://proxy.example/v1beta", "https://proxy.example/v1beta"],
    ["https://proxy.example/v1", "https://proxy.example/v1"],
  ])("API root of %s is %s", (base, root) => {
    expect(Provider.apiRoot(base, "v1beta")).toBe(root)
  })

  it("puts the model id into the URL as one encoded segment, for every method", async () => {
    const model = "gemini-flash/../../../admin#?x=%2F"
    const encoded = encodeURIComponent(model)
    const before = upstream.requests.length
    const p = provider()
    const settle = <A>(e: Effect.Effect<A, GatewayError>) => Effect.runPromise(Effect.either(e))
    await settle(p.chat(chat({ model }), ctx))
    await settle(Stream.runDrain(p.chatStream(chat({ model, stream: true }), ctx)))
    await settle(p.countTokens(chat({ model }), ctx))
    await settle(p.embed({ model, inputs: ["x"] }, ctx))
    const urls = upstream.requests.slice(before).map((r) => r.url.replace(/\?.*$/, ""))
    expect(urls).toEqual(
      ["generateContent", "streamGenerateContent", "countTokens", "batchEmbedContents"].map(
        (m) => `/v1beta/models/${encoded}:${m}`,
      ),
    )
    expect(Provider.resourcePath("tunedModels/a/b")).toBe("tunedModels/a%2Fb")
  })

  it("an invalid key (Google's 400 API_KEY_INVALID) is a 401 upstream error", async () => {
    const e = await fail(provider("wrong").chat(chat(), ctx))
    expect(e).toMatchObject({ _tag: "UpstreamError", status: 401, provider: "google" })
    expect(e.message).toBe("API key not valid. Please pass a valid API key.")
  })

  it("an unreachable upstream is a 502", async () => {
    const e = await fail(provider("right-key", "http://127.0.0.1:9").chat(chat(), ctx))
    expect(e).toMatchObject({ _tag: "UpstreamError", status: 502 })
  })

  it("a 429 carries RetryInfo's delay as retryAfterSeconds", async () => {
    upstream.script({ error: 429, retryDelay: "17s" })
    expect(await fail(provider().chat(chat(), ctx))).toMatchObject({ status: 429, retryAfterSeconds: 17 })
  })

  it("keeps extra candidates for a Gemini client (candidateCount > 1)", async () => {
    const candidate = (text: string, index: number) => ({
      content: { role: "model", parts: [{ text }] },
      finishReason: "STOP",
      index,
    })
    upstream.script({
      chunks: [
        { candidates: [candidate("one", 0), candidate("two", 1)], modelVersion: "gemini-2.5-flash", responseId: "R" },
      ],
    })
    const r = await Effect.runPromise(provider().chat(chat({ candidates: 2 }), ctx))
    expect((upstream.generateBodies().at(-1) as { generationConfig: unknown }).generationConfig).toEqual({
      candidateCount: 2,
    })
    expect(r.parts).toEqual([{ type: "text", text: "one" }])
    expect((Response.toGemini(r).candidates as Array<unknown>).length).toBe(2)
  })

  it("counts tokens with the system instruction through generateContentRequest", async () => {
    const n = await Effect.runPromise(
      provider().countTokens(
        chat({ messages: [{ role: "system", parts: [{ type: "text", text: "12345678" }] }, ...chat().messages] }),
        ctx,
      ),
    )
    expect(n).toBe(4) // "12345678" + "hi there": the system instruction counted
    expect(upstream.requests.at(-1)?.body).toMatchObject({
      generateContentRequest: {
        model: "models/gemini-2.5-flash",
        systemInstruction: { parts: [{ text: "12345678" }] },
      },
    })
  })

  it("embeds through batchEmbedContents with per-input task types", async () => {
    const r = await Effect.runPromise(
      provider().embed(
        {
          model: "gemini-embedding-001",
          inputs: ["a", "b"],
          dimensions: 4,
          extras: {
            gemini: { requests: [{ taskType: "RETRIEVAL_QUERY" }, { taskType: "RETRIEVAL_DOCUMENT", title: "T" }] },
          },
        },
        ctx,
      ),
    )
    expect(r.embeddings.map((e) => e.length)).toEqual([4, 4])
    expect(upstream.requests.at(-1)?.body).toEqual({
      requests: [
        {
          model: "models/gemini-embedding-001",
          content: { parts: [{ text: "a" }] },
          taskType: "RETRIEVAL_QUERY",
          outputDimensionality: 4,
        },
        {
          model: "models/gemini-embedding-001",
          content: { parts: [{ text: "b" }] },
          taskType: "RETRIEVAL_DOCUMENT",
          title: "T",
          outputDimensionality: 4,
        },
      ],
    })
  })

  it("lists the upstream's models as provider/model ids", async () => {
    const models = await Effect.runPromise(provider().listModels(ctx))
    expect(models.map((m) => m.id)).toEqual([
      "google/gemini-2.5-flash",
      "google/gemini-2.5-pro",
      "google/gemini-embedding-001",
    ])
    expect(models[0]).toMatchObject({
      displayName: "Gemini 2.5 Flash",
      inputTokenLimit: 1048576,
      operations: ["chat", "countTokens"],
    })
    expect(models[2]?.operations).toEqual(["countTokens", "embed"])
  })

  it("streams with alt=sse and aborts the upstream call when the consumer stops", async () => {
    const before = upstream.requests.length
    const events = await Effect.runPromise(
      Stream.runCollect(
        Stream.take(
          provider().chatStream(
            chat({
              stream: true,
              messages: [{ role: "user", parts: [{ type: "text", text: "a b c d e f g h i j k l" }] }],
            }),
            ctx,
          ),
          2,
        ),
      ),
    )
    expect(Chunk.toArray(events).map((e) => e._tag)).toEqual(["start", "text_delta"])
    const req = upstream.requests[before]!
    expect(req.query.get("alt")).toBe("sse")
    expect(req.headers["x-goog-api-key"]).toBe("right-key")
    // The mock would take ~90 ms more to finish; the connection closes well before.
    const closedAfter = await req.closed
    expect(closedAfter).toBeLessThan(500)
  })
})
