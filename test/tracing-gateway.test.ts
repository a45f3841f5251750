/**
 * Tracing end to end: the openai SDK → the gateway (tracing, metrics, access log on) → a mock
 * OpenAI upstream, with spans exported over OTLP/HTTP to a loopback collector. Checks the
 * request span's GenAI attributes, retries as child attempt spans, the client's traceparent
 * continued and propagated upstream, Prometheus text at /metrics and the access-log lines.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { MockUpstream, OpenAIUpstream } from "@sluice/testing"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

interface OtlpAttribute {
  key: string
  value: { stringValue?: string; intValue?: string | number; doubleValue?: number; arrayValue?: unknown }
}
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes: Array<OtlpAttribute>
  status?: { code?: number }
}

const startCollector = async () => {
  const bodies: Array<{ path: string; body: string }> = []
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8")
    })
    req.on("end", () => {
      bodies.push({ path: req.url ?? "", body })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const { port } = server.address() as AddressInfo
  const spans = (): Array<OtlpSpan> =>
    bodies
      .filter((b) => b.path === "/v1/traces")
      .flatMap((b) => JSON.parse(b.body).resourceSpans)
      .flatMap((rs: { scopeSpans: Array<{ spans: Array<OtlpSpan> }> }) => rs.scopeSpans.flatMap((ss) => ss.spans))
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((r) => server.close(r)) }
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value
  if (v === undefined) return undefined
  if (v.stringValue !== undefined) return v.stringValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.doubleValue !== undefined) return v.doubleValue
  return v.arrayValue
}

const CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
const CLIENT_SPAN = "b7ad6b7169203331"

describe("tracing through the gateway (openai SDK, OTLP collector, /metrics, access log)", () => {
  let upstream: OpenAIUpstream.OpenAIUpstream
  let collector: Awaited<ReturnType<typeof startCollector>>
  let gw: RunningGateway
  let client: OpenAI
  const logLines: Array<Record<string, unknown>> = []
  const realWrite = process.stdout.write.bind(process.stdout)

  beforeAll(async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array, ...rest: Array<never>) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")
      if (text.startsWith('{"time"') && text.includes('"type":"access"')) {
        logLines.push(JSON.parse(text))
        return true
      }
      return realWrite(chunk, ...rest)
    }) as typeof process.stdout.write)
    upstream = await OpenAIUpstream.start({ apiKey: "sk-upstream-key-0001" })
    collector = await startCollector()
    gw = await startGateway({
      providers: {
        oa: { type: "openai", apiKey: "sk-upstream-key-0001", baseUrl: upstream.baseUrl },
        mock: { type: "mock" },
      },
      models: { gpt: { provider: "oa", model: "gpt-4o-mini" }, mock: { provider: "mock", model: "mock" } },
      resilience: { retry: { attempts: 2, backoff: "1ms" } },
      tracing: { exporter: "otlp", endpoint: collector.url, serviceName: "sluice-test" },
      metrics: {},
      logging: { prompts: true },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "sk-client-key-should-not-leak", maxRetries: 0 })
  })

  afterAll(async () => {
    vi.restoreAllMocks()
    await gw?.close()
    await upstream?.close()
    await collector?.close()
  })

  it("answers a chat and a stream, continuing the client's trace upstream", async () => {
    const done = await client.chat.completions.create(
      { model: "gpt", messages: [{ role: "user", content: "hello there" }], max_tokens: 40 },
      { headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` } },
    )
    expect(done.choices[0]?.message.content).toBeTruthy()
    const sent = upstream.requests.at(-1)!
    const forwarded = String(sent.headers.traceparent)
    expect(forwarded).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`))
    expect(forwarded).not.toContain(CLIENT_SPAN)

    const stream = await client.chat.completions.create({
      model: "gpt",
      messages: [{ role: "user", content: "stream please" }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    expect(text.length).toBeGreaterThan(0)
  })

  it("a retried request and a failed one are both answered as the SDK expects", async () => {
    upstream.once(
      "POST",
      "/v1/chat/completions",
      MockUpstream.json(503, { error: { message: "busy", type: "server_error" } }),
    )
    const ok = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "retry me" }] })
    expect(ok.choices[0]?.message.content).toBeTruthy()
    const failed = await client.chat.completions
      .create({ model: "mock", messages: [{ role: "user", content: "fail:500" }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(failed).toBeInstanceOf(OpenAI.APIError)
    expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(500)
  })

  it("serves Prometheus text at /metrics with requests, errors, latency and tokens", async () => {
    const res = await fetch(`${gw.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/plain")
    const text = await res.text()
    expect(text).toMatch(
      /sluice_requests_total\{[^}]*gen_ai_provider_name="oa"[^}]*gen_ai_request_model="gpt"[^}]*\} 3/,
    )
    expect(text).toMatch(
      /sluice_errors_total\{[^}]*gen_ai_request_model="mock"[^}]*error_type="UpstreamError"[^}]*\} 1/,
    )
    expect(text).toMatch(/gen_ai_server_time_to_first_token_count\{[^}]*gen_ai_request_model="gpt"[^}]*\} 1/)
    expect(text).toMatch(/sluice_tokens_total\{[^}]*gen_ai_token_type="output"[^}]*\} [1-9]/)
  })

  it("writes one JSON access-log line per request, never the client's key", () => {
    expect(logLines).toHaveLength(4)
    const [first, streamed, retried, failed] = logLines
    expect(first).toMatchObject({
      ingress: "openai",
      model: "gpt",
      target: "oa/gpt-4o-mini",
      status: 200,
      stream: false,
      prompt: "user: hello there",
    })
    expect(typeof first!.id).toBe("string")
    expect(first!.latency_ms).toBeGreaterThanOrEqual(0)
    expect(first!.tokens).toMatchObject({ input: expect.any(Number), output: expect.any(Number) })
    expect(first!.trace_id).toBe(CLIENT_TRACE)
    expect(streamed).toMatchObject({ stream: true, status: 200 })
    expect(streamed!.ttft_ms).toBeGreaterThanOrEqual(0)
    expect(retried).toMatchObject({ attempts: 2, status: 200 })
    expect(failed).toMatchObject({ model: "mock", status: 500, error: { type: "UpstreamError" } })
    expect(JSON.stringify(logLines)).not.toContain("sk-client-key")
    expect(JSON.stringify(logLines)).not.toContain("sk-upstream-key")
  })

  it("exports GenAI request spans with upstream attempts as children", async () => {
    await gw.close() // flushes the batch span processor
    const spans = collector.spans()
    const requests = spans.filter((s) => s.kind === 2)
    expect(requests.map((s) => s.name)).toEqual(["chat gpt", "chat gpt", "chat gpt", "chat mock"])
    const [first, streamed, retried, failed] = requests
    expect(first!.traceId).toBe(CLIENT_TRACE)
    expect(first!.parentSpanId).toBe(CLIENT_SPAN)
    expect(attr(first!, "gen_ai.operation.name")).toBe("chat")
    expect(attr(first!, "gen_ai.provider.name")).toBe("oa")
    expect(attr(first!, "gen_ai.request.model")).toBe("gpt")
    expect(attr(first!, "gen_ai.response.model")).toMatch(/^gpt-4o-mini/)
    expect(attr(first!, "gen_ai.request.max_tokens")).toBe(40)
    expect(attr(first!, "gen_ai.usage.input_tokens")).toBeGreaterThan(0)
    expect(attr(first!, "gen_ai.usage.output_tokens")).toBeGreaterThan(0)
    expect(attr(streamed!, "gen_ai.response.time_to_first_chunk")).toBeGreaterThan(0)

    const attemptsOf = (parent: OtlpSpan) =>
      spans.filter((s) => s.name === "sluice.attempt" && s.parentSpanId === parent.spanId)
    expect(attemptsOf(first!)).toHaveLength(1)
    // The upstream saw the attempt's trace: same trace id as the client's.
    expect(attemptsOf(first!)[0]!.traceId).toBe(CLIENT_TRACE)
    const retries = attemptsOf(retried!)
    expect(retries.map((s) => attr(s, "sluice.attempt"))).toEqual([1, 2])
    expect(retries.map((s) => s.status?.code ?? 0)).toEqual([2, 1])
    expect(attr(failed!, "error.type")).toBe("UpstreamError")
    // No span per upstream HTTP call unless `tracing.httpSpans` asks for it (test/security-secrets
    // turns it on and checks its header attributes are redacted).
    expect(spans.filter((s) => s.name.startsWith("http.client"))).toEqual([])
    expect(failed!.status?.code).toBe(2)
    expect(attemptsOf(failed!)).toHaveLength(2)
  })
})
