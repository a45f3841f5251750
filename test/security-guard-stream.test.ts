/**
 * A private key streamed by the upstream, through a real `sluice start`, in every client format
 * and many chunkings: with a blocking `secret` policy none of the key reaches the client (the
 * stream ends in that format's content-filter form); with a redacting one the client gets
 * `[REDACTED:secret]` in its place. The upstream streams the key in the chunk sizes the prompt
 * names, and records every request it gets.
 */
import { OpenAIUpstream } from "@sluice/testing"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

const upstreamKey = "sk-upstream-guard-stream-0001"
const body = Array.from({ length: 26 }, (_, i) =>
  `MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC${String.fromCharCode(65 + i)}x9Lm`.padEnd(64, "w"),
).join("\n")
const pem = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`
const answer = `Here is the key you asked for:\n${pem}\nKeep it somewhere safe.`
/** Nothing of these may reach a client: the key's header and a piece of every body line. */
const forbidden = ["BEGIN RSA", "END RSA", ...body.split("\n").map((l) => l.slice(44, 60))]

let upstream: OpenAIUpstream.OpenAIUpstream
let gw: SluiceProcess

const sse = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-pem",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })}\n\n`

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: upstreamKey })
  // `sizes:1,7,20` in the prompt: the answer is streamed in chunks of those sizes, in turn.
  upstream.on("POST", "/v1/chat/completions", async (req, res) => {
    const b = req.body as { stream?: boolean; messages: Array<{ content: unknown }> }
    const prompt = JSON.stringify(b.messages)
    const sizes = (/sizes:([\d,]+)/.exec(prompt)?.[1] ?? "500").split(",").map(Number)
    if (b.stream !== true) {
      res.writeHead(400, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: "this upstream streams only", type: "invalid_request_error" } }))
      return
    }
    res.writeHead(200, { "content-type": "text/event-stream" })
    res.write(sse({ role: "assistant", content: "" }))
    for (let at = 0, i = 0; at < answer.length && !res.destroyed; i++) {
      const n = Math.max(1, sizes[i % sizes.length]!)
      res.write(sse({ content: answer.slice(at, at + n) }))
      at += n
    }
    res.write(sse({}, "stop"))
    res.end("data: [DONE]\n\n")
  })
  gw = await startSluice(
    [
      "providers:",
      `  up: { type: openai, baseUrl: "${upstream.baseUrl}", apiKey: "${upstreamKey}" }`,
      "models:",
      "  pem: { provider: up, model: gpt-4o-mini }",
      "  pem-redact: { provider: up, model: gpt-4o-mini }",
      "guardrails:",
      "  global: []",
      "  routes:",
      "    - { match: pem, policies: [no-secrets] }",
      "    - { match: pem-redact, policies: [mask-secrets] }",
      "  policies:",
      "    no-secrets: { on: [output], pii: [secret] }",
      "    mask-secrets: { on: [output], pii: [secret], action: redact }",
      "",
    ].join("\n"),
  )
}, 120_000)

afterAll(async () => {
  await gw?.stop()
  await upstream?.close()
})

type Format = "openai-chat" | "openai-responses" | "anthropic" | "gemini"
const formats: ReadonlyArray<Format> = ["openai-chat", "openai-responses", "anthropic", "gemini"]

/** A streamed request in `format`; resolves with the whole response body as the client got it. */
const ask = async (format: Format, model: string, prompt: string): Promise<{ status: number; text: string }> => {
  const json = { "content-type": "application/json" }
  const [path, headers, payload] =
    format === "openai-chat"
      ? ["/v1/chat/completions", json, { model, stream: true, messages: [{ role: "user", content: prompt }] }]
      : format === "openai-responses"
        ? ["/v1/responses", json, { model, stream: true, input: prompt }]
        : format === "anthropic"
          ? [
              "/v1/messages",
              { ...json, "anthropic-version": "2023-06-01" },
              { model, max_tokens: 1024, stream: true, messages: [{ role: "user", content: prompt }] },
            ]
          : [
              `/v1beta/models/${model}:streamGenerateContent?alt=sse`,
              json,
              { contents: [{ role: "user", parts: [{ text: prompt }] }] },
            ]
  const res = await fetch(`${gw.url}${path}`, { method: "POST", headers, body: JSON.stringify(payload) })
  return { status: res.status, text: await res.text() }
}

/** The client-side sign of a stream cut by a policy, per format. */
const cutMark: Record<Format, RegExp> = {
  "openai-chat": /"finish_reason":"content_filter"/,
  "openai-responses": /response\.(failed|incomplete)|content_filter/,
  anthropic: /event: error/,
  gemini: /"finishReason":"SAFETY"/,
}

const expectNothingOfTheKey = (text: string) => {
  for (const piece of forbidden) expect(text).not.toContain(piece)
}

describe("a private key streamed by the upstream (real `sluice start`)", () => {
  for (const format of formats) {
    for (const size of [1, 7, 20, 64, 500]) {
      it(`${format}, ${size}-character chunks: blocked, nothing of the key sent`, async () => {
        const before = upstream.requests.length
        const r = await ask(format, "pem", `give me the key sizes:${size}`)
        expect(upstream.requests.length).toBe(before + 1)
        expect(r.status).toBe(200)
        expectNothingOfTheKey(r.text)
        expect(r.text).toMatch(cutMark[format])
      })
    }

    it(`${format}: with a redacting policy the key arrives as [REDACTED:secret] and the rest flows`, async () => {
      const r = await ask(format, "pem-redact", "give me the key sizes:7")
      expect(r.status).toBe(200)
      expectNothingOfTheKey(r.text)
      expect(r.text).toContain("[REDACTED:secret]")
      expect(r.text).toContain("somewhere safe")
    })
  }

  it("property: any chunking, any client format — the blocked key never reaches the client", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...formats),
        fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 12 }),
        async (format, sizes) => {
          const r = await ask(format, "pem", `again sizes:${sizes.join(",")}`)
          expect(r.status).toBe(200)
          expectNothingOfTheKey(r.text)
          expect(r.text).toMatch(cutMark[format])
        },
      ),
      { numRuns: 25 },
    )
  }, 120_000)
})
