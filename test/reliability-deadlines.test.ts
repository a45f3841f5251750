/**
 * Deadlines against every built-in provider type. The openai, anthropic and gemini providers send
 * through the shared transport, so the gateway enforces their first-byte and total limits with a
 * timer that aborts the upstream call (no race per call): an upstream that never answers, one that
 * stalls in the middle of a JSON body, and one that stalls after a stream's first event must each
 * end in the client's timeout — 504, or the stream's error frame — with the upstream connection
 * closed.
 */
import type * as Http from "node:http"
import { MockUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let upstream: MockUpstream.MockUpstream
let gw: RunningGateway

const types = ["openai", "anthropic", "gemini"] as const
type Type = (typeof types)[number]

beforeAll(async () => {
  upstream = await MockUpstream.start()
  gw = await startGateway({
    providers: {
      openai: { type: "openai", baseUrl: `${upstream.url}/v1`, apiKey: "sk-openai-deadline" },
      anthropic: { type: "anthropic", baseUrl: upstream.url, apiKey: "sk-ant-deadline" },
      gemini: { type: "gemini", baseUrl: upstream.url, apiKey: "AIza-deadline" },
    },
    routes: types.map((t) => ({ match: t, to: `${t}/m`, timeout: { firstByte: "600ms", total: "1500ms" } })),
    resilience: { retry: { attempts: 1 }, circuitBreaker: { failures: 1000, cooldown: "1s" } },
  })
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
})

/** One first event in each provider's own stream format. */
const firstEvent: Record<Type, { readonly contentType: string; readonly frame: string }> = {
  openai: {
    contentType: "text/event-stream",
    frame: `data: ${JSON.stringify({
      id: "chatcmpl-d",
      object: "chat.completion.chunk",
      created: 1_700_000_000,
      model: "m",
      choices: [{ index: 0, delta: { role: "assistant", content: "Hi" }, logprobs: null, finish_reason: null }],
    })}\n\n`,
  },
  anthropic: {
    contentType: "text/event-stream",
    frame: `event: message_start\ndata: ${JSON.stringify({
      type: "message_start",
      message: {
        id: "msg_d",
        type: "message",
        role: "assistant",
        model: "m",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 1, output_tokens: 0 },
      },
    })}\n\nevent: content_block_start\ndata: ${JSON.stringify({
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    })}\n\nevent: content_block_delta\ndata: ${JSON.stringify({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "Hi" },
    })}\n\n`,
  },
  gemini: {
    contentType: "text/event-stream",
    frame: `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "Hi" }] }, index: 0 }] })}\n\n`,
  },
}

const any = /./

const call = async (model: Type, stream: boolean) => {
  const started = Date.now()
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hello" }] }),
    signal: AbortSignal.timeout(15_000),
  })
  return { status: res.status, text: await res.text(), ms: Date.now() - started }
}

/** The upstream's last request must see its connection closed. */
const lastClosed = async () => {
  const last = upstream.requests[upstream.requests.length - 1]!
  const closed = await Promise.race([
    last.closed.then(() => true),
    new Promise((r) => setTimeout(() => r(false), 5_000)),
  ])
  expect(closed, "the gateway left the upstream connection open").toBe(true)
}

describe.each(types)("deadlines with the %s provider", (type) => {
  it("an upstream that never answers a JSON request: 504 after the limit, upstream call aborted", async () => {
    upstream.once("POST", any, MockUpstream.hang)
    const r = await call(type, false)
    expect(r.status, r.text).toBe(504)
    expect(JSON.parse(r.text).error.message).toMatch(/did not answer within 1500 ms/)
    expect(r.ms).toBeGreaterThanOrEqual(1_400)
    await lastClosed()
  })

  it("an upstream that stalls in the middle of its JSON body: 504, upstream call aborted", async () => {
    upstream.once("POST", any, (_req, res: Http.ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.write('{"id": "half')
      return new Promise<void>(() => {})
    })
    const r = await call(type, false)
    expect(r.status, r.text).toBe(504)
    await lastClosed()
  })

  it("a stream whose first event never comes: 504 after the first-byte limit, upstream call aborted", async () => {
    upstream.once("POST", any, MockUpstream.hang)
    const r = await call(type, true)
    expect(r.status, r.text).toBe(504)
    expect(JSON.parse(r.text).error.message).toMatch(/did not answer within 600 ms \(first byte\)/)
    await lastClosed()
  })

  it("a stream that stalls after its first event: the error frame at the total limit, upstream call aborted", async () => {
    upstream.once("POST", any, (_req, res: Http.ServerResponse) => {
      res.writeHead(200, { "content-type": firstEvent[type].contentType })
      res.write(firstEvent[type].frame)
      return new Promise<void>(() => {})
    })
    const r = await call(type, true)
    expect(r.status).toBe(200)
    expect(r.text).toContain("Hi")
    expect(r.text).toMatch(/the upstream stream exceeded 1500 ms/)
    expect(r.ms).toBeGreaterThanOrEqual(1_400)
    await lastClosed()
  })
})
