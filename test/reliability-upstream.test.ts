/**
 * Upstream faults, scripted at a mock OpenAI upstream: a hang past the timeout, 500/503/429,
 * a connection reset before and after the first streamed event, malformed SSE, and slow drips
 * inside and beyond the stream's time limit. Each ends in a clean error in the client's own
 * format (OpenAI and Gemini ingresses) or a fallback answer — never a hung request — and the
 * gateway's upstream connection is closed afterwards (nothing leaked).
 */
import type * as Http from "node:http"
import { MockUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const upstreamKey = "sk-upstream-faults-0001"
const chatPath = "/v1/chat/completions"

let flaky: OpenAIUpstream.OpenAIUpstream
let backup: OpenAIUpstream.OpenAIUpstream
let gw: RunningGateway

beforeAll(async () => {
  flaky = await OpenAIUpstream.start({ apiKey: upstreamKey })
  backup = await OpenAIUpstream.start({ apiKey: upstreamKey })
  const timeout = { firstByte: "800ms", total: "3s" }
  gw = await startGateway({
    providers: {
      flaky: { type: "openai", baseUrl: flaky.baseUrl, apiKey: upstreamKey },
      backup: { type: "openai", baseUrl: backup.baseUrl, apiKey: upstreamKey },
    },
    routes: [
      { match: "solo", to: "flaky/gpt-4o-mini", timeout },
      { match: "safe", to: "flaky/gpt-4o-mini", fallbacks: ["backup/gpt-4o-mini"], timeout },
    ],
    // One attempt per target, and no cool-down between the scripted faults.
    resilience: { retry: { attempts: 1 }, circuitBreaker: { failures: 1000, cooldown: "1s" } },
  })
})
afterAll(async () => {
  await gw?.close()
  await flaky?.close()
  await backup?.close()
})

// ---- the faults, written in OpenAI's wire format ------------------------------------------------

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-f",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })}\n\n`

const frames = [chunk({ role: "assistant", content: "" }), chunk({ content: "Hel" }), chunk({ content: "lo" })]
const complete = [...frames, chunk({}, "stop"), "data: [DONE]\n\n"]

const openaiError = (status: number, type: string, headers: Record<string, string> = {}) =>
  MockUpstream.json(status, { error: { message: `upstream says ${status}`, type, param: null, code: null } }, headers)

/** Script the next chat call at the flaky upstream. */
const next = (responder: MockUpstream.Responder) => flaky.once("POST", chatPath, responder)

// ---- clients ----------------------------------------------------------------------------------

type Ingress = "openai" | "gemini"

const request = (ingress: Ingress, model: string, stream: boolean) =>
  ingress === "openai"
    ? {
        url: `${gw.url}/v1/chat/completions`,
        headers: { "content-type": "application/json", authorization: "Bearer client" },
        body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hello" }] }),
      }
    : {
        url: `${gw.url}/v1beta/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
        headers: { "content-type": "application/json", "x-goog-api-key": "client" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hello" }] }] }),
      }

/** Call the gateway; a request that does not finish within 20 s counts as hung. */
const call = async (ingress: Ingress, model: string, stream = false) => {
  const r = request(ingress, model, stream)
  const res = await fetch(r.url, {
    method: "POST",
    headers: r.headers,
    body: r.body,
    signal: AbortSignal.timeout(20_000),
  })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

const isClientError = (ingress: Ingress, text: string, status: number) => {
  const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown; status?: unknown } }
  return ingress === "openai"
    ? typeof body.error?.message === "string" && typeof body.error.type === "string"
    : body.error?.code === status && typeof body.error.message === "string" && typeof body.error.status === "string"
}

/**
 * The payloads of a streamed answer: SSE `data:` events, plus the bare `{"error":…}` object that
 * Gemini's ingress writes mid-stream (what @google/genai recognises as an error; see WIRE.md).
 */
const dataFrames = (text: string) =>
  text
    .split(/\r?\n\r?\n/)
    .map((f) => f.trim())
    .filter((f) => f.startsWith("data: ") || f.startsWith("{"))
    .map((f) => (f.startsWith("data: ") ? f.slice(6) : f))

/** The last frame of a stream must be that format's error frame. */
const endsWithErrorFrame = (ingress: Ingress, text: string) => {
  const data = dataFrames(text).filter((d) => d !== "[DONE]")
  const last = JSON.parse(data[data.length - 1] ?? "{}") as { error?: { message?: unknown; code?: unknown } }
  return typeof last.error?.message === "string" && (ingress === "openai" || typeof last.error.code === "number")
}

/** Text the client received, in either format. */
const streamedText = (ingress: Ingress, text: string) =>
  dataFrames(text)
    .filter((d) => d !== "[DONE]")
    .map((d) => JSON.parse(d) as Record<string, any>)
    .map((f) =>
      ingress === "openai"
        ? (f.choices?.[0]?.delta?.content ?? "")
        : (f.candidates?.[0]?.content?.parts ?? []).map((p: { text?: string }) => p.text ?? "").join(""),
    )
    .join("")

/** The flaky upstream's last request must see its connection closed: nothing left open. */
const upstreamClosed = async () => {
  const last = flaky.requests[flaky.requests.length - 1]!
  const closed = await Promise.race([
    last.closed.then(() => true),
    new Promise((r) => setTimeout(() => r(false), 5_000)),
  ])
  expect(closed, "the gateway left the upstream connection open").toBe(true)
}

// ---- tests ------------------------------------------------------------------------------------

describe.each<Ingress>(["openai", "gemini"])("upstream faults through the %s ingress", (ingress) => {
  it("an upstream that never answers: 504 in the client's format, upstream call aborted", async () => {
    next(MockUpstream.hang)
    const r = await call(ingress, "solo")
    expect(r.status).toBe(504)
    expect(isClientError(ingress, r.text, 504)).toBe(true)
    await upstreamClosed()
  })

  it.each([
    [500, "server_error"],
    [503, "service_unavailable"],
    [429, "rate_limit_exceeded"],
  ])(
    "upstream %i: the same status in the client's format; with a fallback, the fallback answers",
    async (status, type) => {
      next(openaiError(status, type, status === 429 ? { "retry-after": "7" } : {}))
      const r = await call(ingress, "solo")
      expect(r.status).toBe(status)
      expect(isClientError(ingress, r.text, status)).toBe(true)
      expect(r.text).not.toContain(upstreamKey)
      if (status === 429) expect(r.headers.get("retry-after")).toBe("7")

      next(openaiError(status, type))
      const fb = await call(ingress, "safe")
      expect(fb.status).toBe(200)
      expect(fb.headers.get("x-sluice-target")).toBe("backup/gpt-4o-mini")
      expect(fb.text).toContain("echo: hello")
    },
  )

  it("connection reset before any event: a clean error, or the fallback when there is one", async () => {
    next(MockUpstream.resetAfter([]))
    const r = await call(ingress, "solo", true)
    expect(r.status).toBeGreaterThanOrEqual(500)
    expect(isClientError(ingress, r.text, r.status)).toBe(true)
    await upstreamClosed()

    next(MockUpstream.resetAfter([]))
    const fb = await call(ingress, "safe", true)
    expect(fb.status).toBe(200)
    expect(fb.headers.get("x-sluice-target")).toBe("backup/gpt-4o-mini")
    expect(streamedText(ingress, fb.text)).toBe("echo: hello")
  })

  it("connection reset mid-stream: what arrived is kept, then the format's error frame ends the stream", async () => {
    next(MockUpstream.resetAfter(frames))
    const r = await call(ingress, "solo", true)
    expect(r.status).toBe(200)
    expect(r.text).toContain("Hel")
    expect(endsWithErrorFrame(ingress, r.text), r.text.slice(-400)).toBe(true)
    await upstreamClosed()
  })

  it("malformed SSE mid-stream: the stream ends with an error frame, not a hang or a crash", async () => {
    next(MockUpstream.sse([...frames, "data: {this is not json\n\n", chunk({ content: "never" }), "data: [DONE]\n\n"]))
    const r = await call(ingress, "solo", true)
    expect(r.status).toBe(200)
    expect(endsWithErrorFrame(ingress, r.text), r.text.slice(-400)).toBe(true)
    expect(r.text).not.toContain("never")
    await upstreamClosed()
  })

  it("malformed SSE before any event: a clean error in the client's format", async () => {
    next(MockUpstream.sse(["data: <html>502 Bad Gateway</html>\n\n"]))
    const r = await call(ingress, "solo", true)
    expect(r.status).toBeGreaterThanOrEqual(500)
    expect(isClientError(ingress, r.text, r.status)).toBe(true)
  })

  it("a slow drip inside the limits streams through whole", async () => {
    next(MockUpstream.sse(complete, { delayMs: 150 }))
    const r = await call(ingress, "solo", true)
    expect(r.status).toBe(200)
    expect(streamedText(ingress, r.text)).toBe("Hello")
  })

  it("a drip slower than the stream's total limit is cut off with a timeout error frame", async () => {
    const slow: MockUpstream.Responder = async (_req, res: Http.ServerResponse) => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      res.write(frames[0])
      res.write(frames[1])
      // One more chunk every second, for a minute: far past the 3 s total.
      for (let i = 0; i < 60 && !res.destroyed; i++) {
        await new Promise((r) => setTimeout(r, 1_000))
        if (!res.destroyed) res.write(chunk({ content: "." }))
      }
      res.end()
    }
    next(slow)
    const r = await call(ingress, "solo", true)
    expect(r.status).toBe(200)
    expect(endsWithErrorFrame(ingress, r.text), r.text.slice(-400)).toBe(true)
    expect(r.text).toMatch(/exceeded|timed? ?out|time limit/i)
    await upstreamClosed()
  })
})
