/**
 * A client that never reads a stream is closed at the configured write-stall timeout — not at
 * twice it (Node's socket timeout re-arms itself while the kernel still takes bytes, so the
 * documented 60 s used to be 121 s). A real `sluice start` with `server.writeStallTimeout: 4s`,
 * an upstream that streams as fast as the gateway takes it, and a reader that never reads.
 */
import * as Http from "node:http"
import { type MockUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, expect, it } from "vitest"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

const upstreamKey = "sk-upstream-stall-0001"
const stallMs = 4_000

let upstream: OpenAIUpstream.OpenAIUpstream
let gateway: SluiceProcess

const within = <A>(p: Promise<A>, ms: number, fallback: A) =>
  Promise.race([p, new Promise<A>((r) => setTimeout(() => r(fallback), ms))])

const frame = `data: ${JSON.stringify({
  id: "chatcmpl-st",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta: { content: "x".repeat(32 * 1024) }, logprobs: null, finish_reason: null }],
})}\n\n`

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: upstreamKey })
  gateway = await startSluice(
    [
      `server: { writeStallTimeout: ${stallMs}ms }`,
      "providers:",
      `  up: { type: openai, baseUrl: "${upstream.baseUrl}", apiKey: "${upstreamKey}" }`,
      "",
    ].join("\n"),
  )
}, 90_000)
afterAll(async () => {
  await gateway?.stop()
  await upstream?.close()
})

it("a reader that never reads is closed at the configured write-stall timeout", async () => {
  let blockedAt: number | undefined
  const upstreamClosed = new Promise<number>((resolve) => {
    // Large frames as fast as the gateway takes them (up to 1 GB), so buffers fill at once.
    const flood: MockUpstream.Responder = async (_req, res) => {
      res.once("close", () => resolve(performance.now()))
      res.writeHead(200, { "content-type": "text/event-stream" })
      for (let i = 0; i < 32 * 1024 && !res.destroyed; i++) {
        if (!res.write(frame)) {
          const drained = await within(new Promise<boolean>((r) => res.once("drain", () => r(true))), 300, false)
          if (!drained) {
            blockedAt ??= performance.now()
            await within(new Promise((r) => res.once("drain", r)), 60_000, undefined)
          }
        }
      }
      res.end()
    }
    upstream.once("POST", "/v1/chat/completions", flood)
  })
  const body = JSON.stringify({ model: "up/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] })
  let response: Http.IncomingMessage | undefined
  const started = new Promise<number>((resolve, reject) => {
    const req = Http.request(
      `${gateway.url}/v1/chat/completions`,
      { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer c" } },
      (res) => {
        response = res
        res.pause() // and never read
        resolve(performance.now())
      },
    )
    req.on("error", reject)
    req.end(body)
  })
  const startedAt = await within(started, 15_000, undefined)
  expect(startedAt, "no response headers").toBeDefined()
  const closedAt = await within(upstreamClosed, 30_000, undefined)
  expect(closedAt, "the stalled stream was never closed").toBeDefined()
  expect(blockedAt, "the upstream was never held back").toBeDefined()
  // Closed one stall period after the writes stopped (buffers fill within a moment of the
  // first byte): not before it, and well before two periods (which Node's own timeout took).
  const elapsed = closedAt! - startedAt!
  expect(elapsed).toBeGreaterThan(stallMs)
  expect(elapsed).toBeLessThan(2 * stallMs - 500)
  // The client's connection is gone too: reading now drains what was buffered, then it ends.
  const ended = new Promise<boolean>((r) => {
    response!.socket.once("close", () => r(true))
    response!.on("error", () => {})
  })
  response!.resume()
  expect(await within(ended, 15_000, false)).toBe(true)
}, 90_000)
