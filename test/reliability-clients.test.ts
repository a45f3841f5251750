/**
 * Clients that misbehave: one that disconnects mid-stream (the gateway must close its upstream
 * connection within 100 ms — observed at the mock upstream), slowloris header trickles (cut off
 * by the header timeout), and a reader that never reads (backpressure reaches the upstream, so
 * the gateway buffers a bounded amount, and the stream's time limit releases the upstream).
 */
import * as Http from "node:http"
import * as Net from "node:net"
import { Effect, Either, Exit, Layer, Scope } from "effect"
import { Config, Upstream } from "@sluice/core"
import { Assemble } from "@sluice/gateway"
import { NodeServer } from "@sluice/server"
import { type MockUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const upstreamKey = "sk-upstream-clients-0001"
const headersTimeout = 1_000

let upstream: OpenAIUpstream.OpenAIUpstream
let scope: Scope.CloseableScope
let port: number

const chunk = (content: string) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-c",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
  })}\n\n`

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: upstreamKey })
  const parsed = Config.fromObject(
    {
      providers: { up: { type: "openai", baseUrl: upstream.baseUrl, apiKey: upstreamKey } },
      routes: [{ match: "m", to: "up/gpt-4o-mini", timeout: { firstByte: "2s", total: "3s" } }],
    },
    {},
  )
  if (Either.isLeft(parsed)) throw new Error(parsed.left.message)
  scope = Effect.runSync(Scope.make())
  // Built like test/support/gateway.ts, but with a short header timeout to test slowloris.
  port = await Effect.runPromise(
    Effect.gen(function* () {
      const assembled = yield* Assemble.build(parsed.right)
      const server = yield* NodeServer.make(assembled.app, {
        host: "127.0.0.1",
        port: 0,
        headersTimeout,
        requestTimeout: 5_000,
        writeStallTimeout: 1_000,
        shutdownTimeout: 1_000,
      })
      return server.address._tag === "TcpAddress" ? server.address.port : 0
    }).pipe(Effect.provide(Layer.extendScope(Upstream.layer)), Scope.extend(scope)),
  )
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await upstream?.close()
})

/** Resolve `p`, or `fallback` after `ms` — every wait in this file is bounded. */
const within = <A>(p: Promise<A>, ms: number, fallback: A) =>
  Promise.race([p, new Promise<A>((r) => setTimeout(() => r(fallback), ms))])

type Ingress = "openai" | "gemini" | "anthropic"
const streamRequest = (ingress: Ingress) => {
  switch (ingress) {
    case "openai":
      return {
        path: "/v1/chat/completions",
        headers: { authorization: "Bearer c" },
        body: { model: "m", stream: true, messages: [{ role: "user", content: "hi" }] },
      }
    case "gemini":
      return {
        path: "/v1beta/models/m:streamGenerateContent?alt=sse",
        headers: { "x-goog-api-key": "c" },
        body: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
      }
    case "anthropic":
      return {
        path: "/v1/messages",
        headers: { "x-api-key": "c", "anthropic-version": "2023-06-01" },
        body: { model: "m", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] },
      }
  }
}

/** Start a streamed request; resolves with the request once the first body bytes arrive. */
const openStream = (ingress: Ingress, onResponse?: (res: Http.IncomingMessage) => void) =>
  new Promise<Http.ClientRequest>((resolve, reject) => {
    const r = streamRequest(ingress)
    const body = JSON.stringify(r.body)
    const req = Http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: r.path,
        headers: { ...r.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
        if (onResponse !== undefined) {
          onResponse(res)
          resolve(req)
        } else res.once("data", () => resolve(req))
      },
    )
    req.on("error", () => {})
    req.end(body)
  })

describe("client disconnect mid-stream", () => {
  it.each<Ingress>(["openai", "gemini", "anthropic"])(
    "%s ingress: the upstream connection closes within 100 ms of the client leaving",
    async (ingress) => {
      let closedAt: number | undefined
      const upstreamClosed = new Promise<void>((resolve) => {
        // A stream that would drip for a minute.
        const drip: MockUpstream.Responder = async (_req, res) => {
          res.once("close", () => {
            closedAt = performance.now()
            resolve()
          })
          res.writeHead(200, { "content-type": "text/event-stream" })
          for (let i = 0; i < 300 && !res.destroyed; i++) {
            res.write(chunk(`t${i} `))
            await new Promise((r) => setTimeout(r, 200))
          }
          res.end()
        }
        upstream.once("POST", "/v1/chat/completions", drip)
      })
      const req = await openStream(ingress)
      const leftAt = performance.now()
      req.destroy()
      await within(upstreamClosed, 5_000, undefined)
      expect(closedAt, "the upstream connection was never closed").toBeDefined()
      expect(closedAt! - leftAt).toBeLessThan(100)
    },
  )
})

describe("slow clients", () => {
  it("slowloris: connections trickling their headers are closed by the header timeout", async () => {
    const sockets = Array.from({ length: 20 }, () => Net.connect(port, "127.0.0.1"))
    const closed = sockets.map(
      (s) =>
        new Promise<string>((resolve) => {
          let got = ""
          s.on("data", (d) => {
            got += d.toString("latin1")
          })
          s.on("error", () => {})
          s.on("close", () => resolve(got))
        }),
    )
    for (const s of sockets) s.write("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    // Keep trickling one header line every 200 ms, for at most 20 s.
    let open = true
    const trickle = (async () => {
      for (let i = 0; i < 100 && open; i++) {
        await new Promise((r) => setTimeout(r, 200))
        for (const s of sockets) if (!s.destroyed) s.write(`x-slow-${i}: ${"a".repeat(8)}\r\n`)
      }
    })()
    const answers = await within(Promise.all(closed), 20_000, undefined)
    open = false
    await trickle
    for (const s of sockets) s.destroy()
    expect(answers, "slowloris connections were still open after 20 s").toBeDefined()
    // Node answers 408 before closing a connection whose headers timed out.
    for (const a of answers!) expect(a === "" || a.startsWith("HTTP/1.1 408")).toBe(true)
    // The gateway still serves.
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    expect(health.status).toBe(200)
  })

  it("a reader that never reads: backpressure bounds what the upstream can push; the stall timeout frees both ends", async () => {
    let accepted = 0
    let blocked = false
    const upstreamDone = new Promise<void>((resolve) => {
      // As fast as the gateway will take it: 1 KB chunks, up to 64 MB.
      const flood: MockUpstream.Responder = async (_req, res) => {
        res.once("close", () => resolve())
        res.writeHead(200, { "content-type": "text/event-stream" })
        const frame = chunk("x".repeat(1024))
        for (let i = 0; i < 64 * 1024 && !res.destroyed; i++) {
          accepted += frame.length
          if (!res.write(frame)) {
            const drained = await within(new Promise<boolean>((r) => res.once("drain", () => r(true))), 500, false)
            // Held back: wait (bounded) until the gateway reads again or goes away.
            if (!drained) {
              blocked = true
              await within(new Promise((r) => res.once("drain", r)), 20_000, undefined)
            }
          }
        }
        res.end()
      }
      upstream.once("POST", "/v1/chat/completions", flood)
    })
    let response: Http.IncomingMessage | undefined
    const req = await openStream("openai", (res) => {
      response = res
      res.pause() // and never read again
    })
    // The gateway gives up on the stalled client after its 1 s write-stall timeout, which
    // aborts the upstream call behind it…
    const upstreamReleased = await within(
      upstreamDone.then(() => true),
      15_000,
      false,
    )
    const total = accepted
    // …and the client's connection is gone: reading now drains what was in flight, then ends.
    const ended = new Promise<boolean>((r) => {
      response!.socket.once("close", () => r(true))
      response!.on("error", () => {})
    })
    response!.resume()
    const closedByGateway = await within(ended, 10_000, false)
    req.destroy()
    expect(blocked, "the upstream was never held back").toBe(true)
    // Socket buffers on both hops plus the gateway's stream buffers: a few MB, not 64.
    expect(total).toBeLessThan(16 * 1024 * 1024)
    expect(upstreamReleased, "the upstream connection stayed open").toBe(true)
    expect(closedByGateway, "the gateway kept a client that stopped reading").toBe(true)
  })
})
