/**
 * Gemini Live clients (`@google/genai`'s `ai.live.connect`) through the gateway: a text turn and
 * a tool call to the built-in mock, to a Gemini Live upstream (relayed) and to an OpenAI
 * Realtime upstream (translated); an audio turn; bad input gets Live's close codes and the
 * gateway stays up; a revoked key's session is closed.
 */
import { GoogleGenAI, type LiveServerMessage, Modality, type Session } from "@google/genai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { type RunningGateway, startGateway } from "./support/gateway.ts"
import { type MockServer, geminiLive, openaiRealtime } from "./support/realtime-upstreams.ts"

const key = "sk-live-test-key"
let gw: RunningGateway
let live: MockServer
let realtime: MockServer

beforeAll(async () => {
  live = await geminiLive("up-gemini-key")
  realtime = await openaiRealtime("up-openai-key")
  gw = await startGateway({
    providers: {
      mock: { type: "mock" },
      live: { type: "gemini", baseUrl: live.url, apiKey: "up-gemini-key" },
      rt: { type: "openai", baseUrl: `${realtime.url}/v1`, apiKey: "up-openai-key" },
    },
    models: {
      mock: { provider: "mock", model: "mock" },
      "live-model": { provider: "live", model: "gemini-live-up" },
      "rt-model": { provider: "rt", model: "gpt-realtime-up" },
    },
    keys: [
      { name: "tester", key },
      { name: "narrow", key: "sk-narrow-key-0123456789", models: ["mock"] },
    ],
    admin: { key: "admin-secret-0123456789" },
    realtime: { maxFrame: "64kb", recheckInterval: "200ms", stallTimeout: "2s" },
  })
}, 60_000)

afterAll(async () => {
  await gw?.close()
  await live?.close()
  await realtime?.close()
})

/** A Live session whose messages can be awaited (each wait bounded, not timed). */
const connect = async (model: string, apiKey = key, audio = false) => {
  const ai = new GoogleGenAI({ apiKey, httpOptions: { baseUrl: gw.url } })
  const messages: Array<LiveServerMessage> = []
  const waiters: Array<() => void> = []
  let closed: { code: number; reason: string } | undefined
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  const session: Session = await ai.live.connect({
    model,
    config: {
      responseModalities: [audio ? Modality.AUDIO : Modality.TEXT],
      tools: [
        {
          functionDeclarations: [
            {
              name: "get_weather",
              description: "weather in a city",
              parametersJsonSchema: { type: "object", properties: { city: { type: "string" } } },
            },
          ],
        },
      ],
      ...(audio ? { inputAudioTranscription: {}, outputAudioTranscription: {} } : {}),
    },
    callbacks: {
      onmessage: (m) => {
        messages.push(m)
        wake()
      },
      onclose: (e) => {
        closed = { code: e.code, reason: e.reason }
        wake()
      },
    },
  })
  let seen = 0
  /** Messages up to (and including) the first one after the last wait that satisfies `done`. */
  const until = async (done: (m: LiveServerMessage) => boolean): Promise<Array<LiveServerMessage>> => {
    const deadline = Date.now() + 15_000
    for (;;) {
      const i = messages.slice(seen).findIndex(done)
      if (i >= 0) {
        const batch = messages.slice(seen, seen + i + 1)
        seen += i + 1
        return batch
      }
      if (closed !== undefined) throw new Error(`closed ${closed.code} ${closed.reason}`)
      if (Date.now() > deadline) throw new Error("no such message")
      await new Promise<void>((r) => {
        waiters.push(r)
        setTimeout(r, 500)
      })
    }
  }
  const closedWith = async () => {
    const deadline = Date.now() + 15_000
    while (closed === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    return closed
  }
  return { session, until, closedWith }
}

const text = (batch: ReadonlyArray<LiveServerMessage>) =>
  batch
    .flatMap((m) => m.serverContent?.modelTurn?.parts ?? [])
    .map((p) => p.text ?? "")
    .join("")

describe.each([
  ["the mock provider", "mock", "echo: hello", /tool said: .*21/],
  ["a Gemini Live upstream (relayed)", "live-model", "live: hello", /live: tool result .*21/],
  ["an OpenAI Realtime upstream (translated)", "rt-model", "realtime: hello", /realtime tool result .*21/],
])("Live client to %s", (_name, model, greeting, toolAnswer) => {
  it("holds a text turn and a tool call", async () => {
    const { session, until } = await connect(model)
    session.sendClientContent({ turns: [{ role: "user", parts: [{ text: "hello" }] }], turnComplete: true })
    const first = await until((m) => m.serverContent?.turnComplete === true)
    expect(text(first)).toBe(greeting)

    session.sendClientContent({
      turns: [{ role: "user", parts: [{ text: "use the tool: what is the weather?" }] }],
      turnComplete: true,
    })
    const [call] = (await until((m) => m.toolCall !== undefined)).slice(-1)
    const fc = call!.toolCall!.functionCalls![0]!
    expect(fc.name).toBe("get_weather")
    session.sendToolResponse({ functionResponses: [{ id: fc.id!, name: fc.name!, response: { celsius: 21 } }] })
    const answer = await until((m) => m.serverContent?.turnComplete === true)
    expect(text(answer)).toMatch(toolAnswer)
    session.close()
  })

  it("holds an audio turn", async () => {
    const { session, until } = await connect(model, key, true)
    const pcm = Buffer.alloc(3200) // 100 ms at 16 kHz
    session.sendRealtimeInput({ audio: { data: pcm.toString("base64"), mimeType: "audio/pcm;rate=16000" } })
    session.sendRealtimeInput({ audioStreamEnd: true })
    const batch = await until((m) => m.serverContent?.turnComplete === true)
    const audio = batch
      .flatMap((m) => m.serverContent?.modelTurn?.parts ?? [])
      .filter((p) => p.inlineData !== undefined)
    expect(audio.length).toBeGreaterThan(0)
    expect(audio[0]!.inlineData!.mimeType).toBe("audio/pcm;rate=24000")
    expect(Buffer.from(audio[0]!.inlineData!.data!, "base64").length).toBeGreaterThan(0)
    session.close()
  })
})

describe("Live sessions end cleanly", () => {
  const raw = (query = `key=${key}`) =>
    new WebSocket(
      `${gw.url.replace("http", "ws")}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?${query}`,
    )
  const closeOf = (ws: WebSocket) =>
    new Promise<{ code: number; reason: string }>((resolve) => {
      ws.on("error", () => {})
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }))
    })

  it("refuses a frame before setup, invalid JSON and an oversized frame with Live's close codes", async () => {
    const a = raw()
    a.on("open", () => a.send(JSON.stringify({ clientContent: { turnComplete: true } })))
    expect(await closeOf(a)).toMatchObject({ code: 1007, reason: expect.stringContaining("setup") })
    const b = raw()
    b.on("open", () => b.send("{not json"))
    expect(await closeOf(b)).toMatchObject({ code: 1007, reason: expect.stringContaining("JSON") })
    const c = raw()
    c.on("open", () => c.send(JSON.stringify({ setup: { model: "models/mock", pad: "x".repeat(100_000) } })))
    expect((await closeOf(c)).code).toBe(1009)
    // The gateway is still up and serving.
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200)
  })

  it("refuses a bad key and a model the key may not use with 1008", async () => {
    const a = raw("key=sk-wrong")
    a.on("open", () => a.send(JSON.stringify({ setup: { model: "models/mock" } })))
    expect(await closeOf(a)).toMatchObject({ code: 1008, reason: expect.stringContaining("API key") })
    const b = raw("key=sk-narrow-key-0123456789")
    b.on("open", () => b.send(JSON.stringify({ setup: { model: "models/live-model" } })))
    expect(await closeOf(b)).toMatchObject({ code: 1008, reason: expect.stringContaining("may not use") })
  })

  it("ends a session whose upstream stalls mid-turn with 1011, and closes the upstream", async () => {
    const before = live.open()
    const { session, until, closedWith } = await connect("live-model")
    session.sendClientContent({ turns: [{ role: "user", parts: [{ text: "hi" }] }], turnComplete: true })
    await until((m) => m.serverContent?.turnComplete === true)
    // Idle between turns is not a stall; a turn the upstream never answers is.
    session.sendClientContent({ turns: [{ role: "user", parts: [{ text: "please stall" }] }], turnComplete: true })
    expect(await closedWith()).toMatchObject({ code: 1011, reason: expect.stringContaining("sent nothing") })
    const deadline = Date.now() + 10_000
    while (live.open() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(live.open()).toBe(before)
  })

  it("closes the upstream when the client leaves, and the client when the upstream leaves", async () => {
    const before = live.open()
    const { session, until, closedWith } = await connect("live-model")
    session.sendClientContent({ turns: [{ role: "user", parts: [{ text: "hi" }] }], turnComplete: true })
    await until((m) => m.serverContent?.turnComplete === true)
    expect(live.open()).toBe(before + 1)
    session.close()
    const deadline = Date.now() + 10_000
    while (live.open() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(live.open()).toBe(before)

    // The upstream goes away: the client is closed.
    const second = await connect("live-model")
    second.session.sendClientContent({ turns: [{ role: "user", parts: [{ text: "hi" }] }], turnComplete: true })
    await second.until((m) => m.serverContent?.turnComplete === true)
    live.terminateAll()
    // Live's close code for an upstream that failed: 1011.
    expect((await second.closedWith())?.code).toBe(1011)
    void closedWith
  })

  it("closes a revoked key's open session", async () => {
    const created = await fetch(`${gw.url}/admin/keys`, {
      method: "POST",
      headers: { authorization: "Bearer admin-secret-0123456789", "content-type": "application/json" },
      body: JSON.stringify({ name: "short-lived" }),
    })
    expect(created.status).toBeLessThan(300)
    const body = (await created.json()) as { key: string; id: string }
    const { session, until, closedWith } = await connect("mock", body.key)
    session.sendClientContent({ turns: [{ role: "user", parts: [{ text: "hello" }] }], turnComplete: true })
    await until((m) => m.serverContent?.turnComplete === true)
    const revoked = await fetch(`${gw.url}/admin/keys/${body.id}`, {
      method: "DELETE",
      headers: { authorization: "Bearer admin-secret-0123456789" },
    })
    expect(revoked.status).toBeLessThan(300)
    expect((await closedWith())?.code).toBe(1008)
  })
})
