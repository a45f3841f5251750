/**
 * SIGTERM to a real `sluice start` process while streams are in flight: the streams finish
 * whole (within the drain timeout), new connections are refused as soon as draining starts,
 * and the process exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { type MockUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = Path.resolve(import.meta.dirname, "..")
const upstreamKey = "sk-upstream-shutdown-0001"
const chunks = 8
const chunkDelayMs = 250

let upstream: OpenAIUpstream.OpenAIUpstream
let child: ChildProcess | undefined
let dir: string

const within = <A>(p: Promise<A>, ms: number, fallback: A) =>
  Promise.race([p, new Promise<A>((r) => setTimeout(() => r(fallback), ms))])

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = Net.createServer()
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as Net.AddressInfo
      s.close(() => resolve(port))
    })
  })

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-s",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })}\n\n`

/** A stream of `chunks` words, one every `chunkDelayMs`: about 2 s in all. */
const slowStream: MockUpstream.Responder = async (_req, res) => {
  res.writeHead(200, { "content-type": "text/event-stream" })
  res.write(chunk({ role: "assistant", content: "" }))
  for (let i = 0; i < chunks && !res.destroyed; i++) {
    await new Promise((r) => setTimeout(r, chunkDelayMs))
    res.write(chunk({ content: `w${i} ` }))
  }
  res.write(chunk({}, "stop"))
  res.end("data: [DONE]\n\n")
}

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: upstreamKey })
  upstream.on("POST", "/v1/chat/completions", slowStream)
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-shutdown-"))
})
afterAll(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  await upstream?.close()
  Fs.rmSync(dir, { recursive: true, force: true })
})

/** A streamed chat request; resolves `started` at the first body bytes and `done` at the end. */
const stream = (port: number) => {
  let onStart: () => void = () => {}
  const started = new Promise<void>((r) => {
    onStart = r
  })
  const done = new Promise<{ status: number; body: string; error?: string }>((resolve) => {
    const body = JSON.stringify({ model: "up/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] })
    const req = Http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json", authorization: "Bearer client" },
      },
      (res) => {
        let text = ""
        res.on("data", (d: Buffer) => {
          text += d.toString("utf8")
          onStart()
        })
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }))
        res.on("error", (e) => resolve({ status: res.statusCode ?? 0, body: text, error: e.message }))
      },
    )
    req.on("error", (e) => resolve({ status: 0, body: "", error: e.message }))
    req.end(body)
  })
  return { started, done }
}

const connectOutcome = (port: number) =>
  new Promise<string>((resolve) => {
    const s = Net.connect(port, "127.0.0.1")
    s.once("connect", () => {
      s.destroy()
      resolve("connected")
    })
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })

describe("SIGTERM during streams (a real `sluice start` process)", () => {
  it("in-flight streams finish, new connections are refused, the process exits 0", async () => {
    const port = await freePort()
    const config = Path.join(dir, "sluice.yaml")
    Fs.writeFileSync(
      config,
      [
        "server: { host: 127.0.0.1, shutdownTimeout: 10s }",
        "providers:",
        `  up: { type: openai, baseUrl: "${upstream.baseUrl}", apiKey: "${upstreamKey}" }`,
        "",
      ].join("\n"),
    )
    const proc = spawn(
      process.execPath,
      ["apps/gateway/bin/sluice.mjs", "start", "--config", config, "--port", String(port)],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    )
    child = proc
    let output = ""
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)))
    const listening = new Promise<boolean>((resolve) => {
      const onData = (d: Buffer) => {
        output += d.toString("utf8")
        if (output.includes("sluice listening on")) resolve(true)
      }
      proc.stdout!.on("data", onData)
      proc.stderr!.on("data", onData)
      void exited.then(() => resolve(false))
    })
    expect(await within(listening, 60_000, false), output).toBe(true)

    const streams = [stream(port), stream(port), stream(port)]
    expect(
      await within(
        Promise.all(streams.map((s) => s.started)).then(() => true),
        15_000,
        false,
      ),
    ).toBe(true)
    const upstreamCalls = upstream.requests.length
    proc.kill("SIGTERM")

    // New connections are refused while the streams drain (bounded: 50 tries, 100 ms apart).
    let refused = false
    for (let i = 0; i < 50 && !refused; i++) {
      refused = (await connectOutcome(port)) === "ECONNREFUSED"
      if (!refused) await new Promise((r) => setTimeout(r, 100))
    }
    expect(refused, "the gateway kept accepting connections after SIGTERM").toBe(true)

    const results = await within(Promise.all(streams.map((s) => s.done)), 20_000, undefined)
    expect(results, "streams did not finish within the drain timeout").toBeDefined()
    for (const r of results!) {
      expect(r.error).toBeUndefined()
      expect(r.status).toBe(200)
      const words = Array.from({ length: chunks }, (_, i) => `w${i} `).join("")
      const text = r.body
        .split("\n\n")
        .filter((f) => f.startsWith("data: {"))
        .map((f) => JSON.parse(f.slice(6)).choices?.[0]?.delta?.content ?? "")
        .join("")
      expect(text).toBe(words)
      expect(r.body.trim().endsWith("data: [DONE]")).toBe(true)
    }
    // Nothing new reached the upstream after SIGTERM.
    expect(upstream.requests.length).toBe(upstreamCalls)
    expect(await within<number | string | null>(exited, 15_000, "still running"), output).toBe(0)
  }, 120_000)
})
