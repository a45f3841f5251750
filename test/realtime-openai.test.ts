/**
 * OpenAI Realtime clients (the openai package's `OpenAIRealtimeWS`, which connects only over
 * wss://) through a gateway terminating TLS with a self-signed certificate made for this run:
 * a text turn and a tool call to the built-in mock, to an OpenAI Realtime upstream (relayed)
 * and to a Gemini Live upstream (translated); an audio turn; refused events get `error` events
 * and the session goes on.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import OpenAI from "openai"
import { OpenAIRealtimeWS } from "openai/realtime/ws"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"
import { type MockServer, geminiLive, openaiRealtime } from "./support/realtime-upstreams.ts"

const key = "sk-realtime-test-key"
let gw: RunningGateway
let live: MockServer
let realtime: MockServer
let cert: Buffer
let dir: string

beforeAll(async () => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-tls-"))
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      Path.join(dir, "key.pem"),
      "-out",
      Path.join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  )
  cert = Fs.readFileSync(Path.join(dir, "cert.pem"))
  live = await geminiLive("up-gemini-key")
  realtime = await openaiRealtime("up-openai-key")
  gw = await startGateway(
    {
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
      keys: [{ name: "tester", key }],
      realtime: { stallTimeout: "2s" },
    },
    {},
    { tls: { cert: cert.toString(), key: Fs.readFileSync(Path.join(dir, "key.pem"), "utf8") } },
  )
}, 60_000)

afterAll(async () => {
  await gw?.close()
  await live?.close()
  await realtime?.close()
  if (dir) Fs.rmSync(dir, { recursive: true, force: true })
})

type Event = { type: string } & Record<string, any>

const connect = async (model: string) => {
  const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1` })
  const rt = new OpenAIRealtimeWS({ model, options: { ca: cert } }, client)
  const events: Array<Event> = []
  let closed: number | undefined
  rt.on("event", (e) => events.push(e as Event))
  rt.on("error", () => {})
  rt.socket.on("close", (code) => {
    closed = code
  })
  await new Promise<void>((resolve, reject) => {
    rt.socket.once("open", () => resolve())
    rt.socket.once("error", reject)
  })
  let seen = 0
  const until = async (type: string): Promise<Array<Event>> => {
    const deadline = Date.now() + 15_000
    for (;;) {
      const i = events.slice(seen).findIndex((e) => e.type === type)
      if (i >= 0) {
        const batch = events.slice(seen, seen + i + 1)
        seen += i + 1
        return batch
      }
      if (closed !== undefined) throw new Error(`closed ${closed}`)
      if (Date.now() > deadline) throw new Error(`no ${type} event`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return { rt, until, closed: () => closed }
}

const tools = [
  {
    type: "function" as const,
    name: "get_weather",
    description: "weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } } },
  },
]

describe.each([
  ["the mock provider", "mock", "echo: hello", /tool said: .*21/],
  ["an OpenAI Realtime upstream (relayed)", "rt-model", "realtime: hello", /realtime tool result .*21/],
  ["a Gemini Live upstream (translated)", "live-model", "live: hello", /live: tool result .*21/],
])("Realtime client to %s over wss://", (_name, model, greeting, toolAnswer) => {
  it("holds a text turn and a tool call", async () => {
    const { rt, until } = await connect(model)
    await until("session.created")
    rt.send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"], tools } })
    await until("session.updated")
    rt.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] },
    })
    rt.send({ type: "response.create" })
    const first = await until("response.done")
    const text = first
      .filter((e) => e.type === "response.output_text.delta")
      .map((e) => e.delta)
      .join("")
    expect(text).toBe(greeting)
    expect(first.at(-1)!.response.usage.total_tokens).toBeGreaterThan(0)

    rt.send({
      type: "conversation.item.create",
      item: {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "use the tool: what is the weather?" }],
      },
    })
    rt.send({ type: "response.create" })
    const call = (await until("response.done")).find((e) => e.type === "response.function_call_arguments.done")!
    expect(call.name).toBe("get_weather")
    expect(JSON.parse(call.arguments)).toBeTypeOf("object")
    rt.send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: call.call_id, output: JSON.stringify({ celsius: 21 }) },
    })
    rt.send({ type: "response.create" })
    const answer = await until("response.done")
    const said = answer
      .filter((e) => e.type === "response.output_text.delta")
      .map((e) => e.delta)
      .join("")
    expect(said).toMatch(toolAnswer)
    rt.close()
  })

  it("holds an audio turn", async () => {
    const { rt, until } = await connect(model)
    await until("session.created")
    rt.send({ type: "session.update", session: { type: "realtime", output_modalities: ["audio"] } })
    await until("session.updated")
    rt.send({ type: "input_audio_buffer.append", audio: Buffer.alloc(4800).toString("base64") })
    rt.send({ type: "input_audio_buffer.commit" })
    rt.send({ type: "response.create" })
    const batch = await until("response.done")
    const audio = batch.filter((e) => e.type === "response.output_audio.delta")
    expect(audio.length).toBeGreaterThan(0)
    expect(Buffer.from(audio[0]!.delta, "base64").length).toBeGreaterThan(0)
    rt.close()
  })
})

describe("Realtime refusals", () => {
  it("answers invalid JSON, unknown events and an empty commit with error events, and goes on", async () => {
    const { rt, until } = await connect("mock")
    await until("session.created")
    rt.socket.send("{not json")
    expect((await until("error")).at(-1)!.error.message).toContain("JSON")
    rt.send({ type: "session.bogus" } as never)
    expect((await until("error")).at(-1)!.error.message).toContain("session.bogus")
    rt.send({ type: "input_audio_buffer.commit" })
    expect((await until("error")).at(-1)!.error.message).toContain("empty")
    rt.send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"] } })
    await until("session.updated")
    rt.close()
  })

  it("ends a session whose upstream stalls mid-turn with an error event and 1011", async () => {
    const { rt, until, closed } = await connect("live-model")
    await until("session.created")
    rt.send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"] } })
    await until("session.updated")
    rt.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "please stall" }] },
    })
    rt.send({ type: "response.create" })
    const error = (await until("error")).at(-1)!
    expect(error.error.message).toContain("sent nothing")
    const deadline = Date.now() + 10_000
    while (closed() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(closed()).toBe(1011)
  })

  it("refuses a bad key with an error event and close code 1008", async () => {
    const client = new OpenAI({ apiKey: "sk-wrong-key", baseURL: `${gw.url}/v1` })
    const rt = new OpenAIRealtimeWS({ model: "mock", options: { ca: cert } }, client)
    const errors: Array<string> = []
    rt.on("error", (e) => errors.push(e.message))
    const code = await new Promise<number>((resolve) => rt.socket.on("close", (c) => resolve(c)))
    expect(code).toBe(1008)
    expect(errors.join(" ")).toContain("invalid API key")
  })
})
