/**
 * No configured secret leaves the gateway. A real `sluice start` with tracing (OTLP/HTTP to a
 * recording collector), metrics (Prometheus and OTLP push) and the access log (prompts on), in
 * front of one upstream per provider type — openai, anthropic, gemini, deepseek, xai, ollama,
 * openai-compatible — each with its own key and a secret in `headers:`, plus a deployment key
 * and a passthrough client key. The upstreams echo the credentials they got back in their error
 * text (as Google does: "API key not valid: AIza…"), before a stream and in the middle of one.
 * Then every byte the gateway exported, printed or answered is searched for every secret.
 */
import type * as Http from "node:http"
import { AnthropicUpstream, GeminiUpstream, type MockUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Otlp from "./support/otlp-receiver.ts"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

const virtualKey = "vk-team-secrets-0001-virtual"
const passthroughKey = "client-own-provider-key-7f3a9c2e"
const deploymentKey = "AIzaDeploymentKey0123456789abcdefghijklm"

/** The OpenAI-format provider types, each with its own upstream, key and header secret. */
const openaiTypes = [
  { name: "oa", type: "openai", key: "sk-proj-openaiSecret00112233445566" },
  { name: "ds", type: "deepseek", key: "sk-deepseekSecret99887766554433" },
  { name: "xa", type: "xai", key: "xai-grokSecret5566778899aabbccdd" },
  // Secrets with no well-known shape: only the configured-secret scrub can catch these.
  { name: "ol", type: "ollama", key: "ollama-plain-secret-42q7w" },
  { name: "oc", type: "openai-compatible", key: "vllm-plain-secret-99z8y" },
] as const
const geminiKey = "AIzaSyGeminiSecret0123456789abcdefghijk"
const anthropicKey = "sk-ant-api03-anthropicSecret-0123456789"
const headerSecret = (name: string) => `hdr-${name}-opaque-5b8d1e7f`

const allSecrets = [
  virtualKey,
  passthroughKey,
  deploymentKey,
  geminiKey,
  anthropicKey,
  ...openaiTypes.map((t) => t.key),
  ...[...openaiTypes.map((t) => t.name), "gm", "gd", "an", "pt"].map(headerSecret),
]

let otlp: Otlp.OtlpReceiver
let gateway: SluiceProcess
const openaiUps = new Map<string, OpenAIUpstream.OpenAIUpstream>()
let passthroughUp: OpenAIUpstream.OpenAIUpstream
let gemini: GeminiUpstream.GeminiMock
let geminiDeployment: GeminiUpstream.GeminiMock
let anthropic: AnthropicUpstream.AnthropicMock

/** What the client saw, every response of the test. */
const seen: Array<string> = []

const chunk = (content: string) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-s",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
  })}\n\n`

/** Everything the upstream got that could be a credential, echoed back as real upstreams do. */
const credentialsOf = (req: MockUpstream.Recorded) =>
  ["authorization", "x-api-key", "x-goog-api-key", "x-upstream-tag"]
    .map((h) => req.headers[h])
    .filter((v): v is string => typeof v === "string")
    .join(", ")

const echoError =
  (shape: "openai" | "gemini" | "anthropic"): MockUpstream.Responder =>
  (req, res: Http.ServerResponse) => {
    const message = `API key not valid: ${credentialsOf(req)}`
    res.writeHead(400, { "content-type": "application/json" })
    res.end(
      JSON.stringify(
        shape === "gemini"
          ? GeminiUpstream.errorBody(400, message)
          : shape === "anthropic"
            ? { type: "error", error: { type: "invalid_request_error", message } }
            : { error: { message, type: "invalid_request_error", param: null, code: null } },
      ),
    )
  }

const echoMidStream =
  (shape: "openai" | "gemini"): MockUpstream.Responder =>
  (req, res: Http.ServerResponse) => {
    const message = `quota exceeded for ${credentialsOf(req)}`
    res.writeHead(200, { "content-type": "text/event-stream" })
    if (shape === "openai") {
      res.write(chunk("partial "))
      res.end(`data: ${JSON.stringify({ error: { message, type: "server_error", code: 500 } })}\n\n`)
    } else {
      res.write(
        `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "partial " }] } }] })}\n\n`,
      )
      res.end(`data: ${JSON.stringify(GeminiUpstream.errorBody(500, message))}\n\n`)
    }
  }

const accessLines = (output: string) =>
  output.split("\n").filter((l) => l.startsWith('{"time"') && l.includes('"type":"access"'))

const headersOf = (res: Response) => {
  const out: Record<string, string> = {}
  res.headers.forEach((v, k) => {
    out[k] = v
  })
  return out
}

const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${virtualKey}`, ...headers },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  seen.push(`${res.status} ${JSON.stringify(headersOf(res))} ${text}`)
  return { status: res.status, text }
}

const chat = (model: string, stream = false, headers: Record<string, string> = {}) =>
  post("/v1/chat/completions", { model, stream, messages: [{ role: "user", content: "hello there" }] }, headers)

beforeAll(async () => {
  otlp = await Otlp.start()
  for (const t of openaiTypes) openaiUps.set(t.name, await OpenAIUpstream.start({ apiKey: t.key }))
  passthroughUp = await OpenAIUpstream.start({ apiKey: passthroughKey })
  gemini = await GeminiUpstream.start({ apiKey: geminiKey })
  geminiDeployment = await GeminiUpstream.start({ apiKey: deploymentKey })
  anthropic = await AnthropicUpstream.start({ apiKey: anthropicKey })
  const provider = (name: string, type: string, baseUrl: string, key?: string, extra = "") =>
    `  ${name}: { type: ${type}, baseUrl: "${baseUrl}", ${key === undefined ? "" : `apiKey: "${key}", `}headers: { x-upstream-tag: "${headerSecret(name)}" }${extra} }`
  gateway = await startSluice(
    [
      "providers:",
      ...openaiTypes.map((t) => provider(t.name, t.type, openaiUps.get(t.name)!.baseUrl, t.key)),
      provider("pt", "openai-compatible", passthroughUp.baseUrl, undefined, ", passthrough: true"),
      provider("gm", "gemini", gemini.url, geminiKey),
      provider("gd", "gemini", geminiDeployment.url, "AIzaProviderKeyNeverUsed000000000000000"),
      provider("an", "anthropic", anthropic.url, anthropicKey),
      "models:",
      `  gdep: { deployments: [{ provider: gd, model: gemini-2.5-flash, apiKey: "${deploymentKey}" }] }`,
      "keys:",
      `  - { name: team, key: "${virtualKey}" }`,
      "tracing:",
      `  exporter: otlp`,
      `  endpoint: "${otlp.url}"`,
      // With the upstream HTTP calls' own spans, whose header attributes must be redacted too.
      "  httpSpans: true",
      "metrics:",
      `  otlp: { endpoint: "${otlp.url}", interval: 500ms }`,
      "logging: { access: true, prompts: true }",
      "",
    ].join("\n"),
    // The SDK's batch span processor flushes every 5 s by default; the last batch goes at shutdown.
    { OTEL_BSP_SCHEDULE_DELAY: "200" },
  )
}, 90_000)

afterAll(async () => {
  await gateway?.stop()
  await otlp?.close()
  for (const u of openaiUps.values()) await u.close()
  await passthroughUp?.close()
  await gemini?.close()
  await geminiDeployment?.close()
  await anthropic?.close()
})

describe("configured secrets never leave the gateway (a real `sluice start`)", () => {
  it("no secret in any exported span, metric, log line or client-visible answer, for every provider type", async () => {
    // OpenAI-format types: a good call, a streamed one, an upstream error echoing the key (whole
    // and streamed), and an error in the middle of a stream.
    for (const t of openaiTypes) {
      const up = openaiUps.get(t.name)!
      const model = `${t.name}/gpt-4o-mini`
      expect((await chat(model)).status).toBe(200)
      expect((await chat(model, true)).status).toBe(200)
      up.once("POST", "/v1/chat/completions", echoError("openai"))
      const failed = await chat(model)
      expect(failed.status).toBe(400)
      expect(failed.text).toContain("API key not valid")
      up.once("POST", "/v1/chat/completions", echoError("openai"))
      expect((await chat(model, true)).status).toBe(400)
      up.once("POST", "/v1/chat/completions", echoMidStream("openai"))
      const mid = await chat(model, true)
      expect(mid.text).toContain("quota exceeded")
      // The upstream got the configured key and header.
      expect(up.requests.at(-1)?.headers.authorization).toBe(`Bearer ${t.key}`)
      expect(up.requests.at(-1)?.headers["x-upstream-tag"]).toBe(headerSecret(t.name))
    }

    // Passthrough: the client's own provider key goes upstream and comes back in its error.
    passthroughUp.once("POST", "/v1/chat/completions", echoError("openai"))
    const pt = await chat("pt/gpt-4o-mini", false, { authorization: `Bearer ${passthroughKey}` })
    expect(pt.status).toBe(400)
    expect(passthroughUp.requests.at(-1)?.headers.authorization).toBe(`Bearer ${passthroughKey}`)

    // Gemini, through the OpenAI and the Gemini ingress.
    expect((await chat("gm/gemini-2.5-flash")).status).toBe(200)
    expect((await chat("gm/gemini-2.5-flash", true)).status).toBe(200)
    gemini.once("POST", /:generateContent$/, echoError("gemini"))
    const g = await chat("gm/gemini-2.5-flash")
    expect(g.status).toBe(400)
    expect(g.text).toContain("API key not valid")
    gemini.once("POST", /:generateContent$/, echoError("gemini"))
    const gi = await post(
      "/v1beta/models/gm/gemini-2.5-flash:generateContent",
      { contents: [{ role: "user", parts: [{ text: "hello there" }] }] },
      { "x-goog-api-key": virtualKey },
    )
    expect(gi.status).toBe(400)
    gemini.once("POST", /:streamGenerateContent$/, echoMidStream("gemini"))
    expect((await chat("gm/gemini-2.5-flash", true)).text).toContain("quota exceeded")
    expect(gemini.requests.at(-1)?.headers["x-goog-api-key"]).toBe(geminiKey)

    // A deployment's own key.
    expect((await chat("gdep")).status).toBe(200)
    geminiDeployment.once("POST", /:generateContent$/, echoError("gemini"))
    expect((await chat("gdep")).status).toBe(400)
    expect(geminiDeployment.requests.at(-1)?.headers["x-goog-api-key"]).toBe(deploymentKey)

    // Anthropic, through the OpenAI and the Anthropic ingress.
    expect((await chat("an/claude-sonnet-4-5")).status).toBe(200)
    expect((await chat("an/claude-sonnet-4-5", true)).status).toBe(200)
    anthropic.upstream.once("POST", "/v1/messages", echoError("anthropic"))
    expect((await chat("an/claude-sonnet-4-5")).status).toBe(400)
    anthropic.upstream.once("POST", "/v1/messages", echoError("anthropic"))
    const ai = await post(
      "/v1/messages",
      { model: "an/claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hello there" }] },
      { "x-api-key": virtualKey, "anthropic-version": "2023-06-01", authorization: "" },
    )
    expect(ai.status).toBe(400)
    anthropic.next({
      content: [AnthropicUpstream.text("partial answer")],
      streamError: { afterBlocks: 1, type: "overloaded_error", message: `overloaded for key ${anthropicKey}` },
    })
    expect((await chat("an/claude-sonnet-4-5", true)).text).toContain("overloaded")

    // /metrics, then stop the process: exporters flush their last batch at shutdown.
    const scrape = await fetch(`${gateway.url}/metrics`)
    const metricsText = await scrape.text()
    expect(scrape.status).toBe(200)
    expect(metricsText).toContain("sluice_requests")
    const exited = new Promise<number | null>((r) => gateway.child.once("exit", (code) => r(code)))
    await gateway.stop()
    expect(await exited).toBe(0)

    const traces = otlp.text("traces")
    const metricsPushed = otlp.text("metrics")
    const output = gateway.output()
    const answers = seen.join("\n")
    // The outputs are real: spans of upstream calls with their request headers, pushed metrics,
    // access-log lines with the echoed errors, scrubbed.
    expect(traces).toContain("http.request.header.x-goog-api-key")
    expect(traces).toContain("http.request.header.x-api-key")
    expect(traces).toContain("http.request.header.authorization")
    expect(traces).toContain("http.request.header.x-upstream-tag")
    expect(traces).toContain("<redacted>")
    expect(metricsPushed).toContain("sluice.requests")
    expect(accessLines(output).length).toBeGreaterThan(30)
    expect(output).toContain("API key not valid")
    expect(answers).toContain("[redacted]")

    const leaks: Array<string> = []
    for (const secret of allSecrets) {
      const where = { traces, metricsPushed, metricsText, output, answers }
      for (const [name, text] of Object.entries(where)) if (text.includes(secret)) leaks.push(`${secret} in ${name}`)
    }
    expect(leaks).toEqual([])
  }, 120_000)
})
