/**
 * What a caller sends cannot grow what the gateway records, and every response is recorded.
 * A real `sluice start` with virtual keys, Prometheus metrics and the access log: many requests
 * with 100 KB model names — without a key, with a key, in every client format — leave `/metrics`
 * small (model labels come from the config, anything else is `other`) and every log line short.
 * A caller without a valid key is refused on its headers, before its body is parsed (bad JSON
 * from it is a 401, not a 400); bodies that do not decode (400) or are too large (413) are
 * logged and counted like every other response.
 */
import { OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

const upstreamKey = "sk-upstream-labels-0001"
const virtualKey = "vk-labels-team-0001"
const huge = (n: number) => `m-${"a".repeat(n)}`

let upstream: OpenAIUpstream.OpenAIUpstream
let gateway: SluiceProcess

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: upstreamKey })
  gateway = await startSluice(
    [
      "server: { bodyLimit: 1mb }",
      "providers:",
      `  up: { type: openai, baseUrl: "${upstream.baseUrl}", apiKey: "${upstreamKey}" }`,
      "models:",
      "  gpt: { provider: up, model: gpt-4o-mini }",
      "keys:",
      `  - { name: team, key: "${virtualKey}" }`,
      "metrics: { enabled: true }",
      "logging: { access: true }",
      "",
    ].join("\n"),
  )
}, 90_000)
afterAll(async () => {
  await gateway?.stop()
  await upstream?.close()
})

type Sent = { path: string; headers: Record<string, string>; body: string }

const openai = (model: string, key?: string): Sent => ({
  path: "/v1/chat/completions",
  headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
})
const anthropic = (model: string, key?: string): Sent => ({
  path: "/v1/messages",
  headers: { "anthropic-version": "2023-06-01", ...(key === undefined ? {} : { "x-api-key": key }) },
  body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] }),
})
// A model in the URL is bounded by the header size limit (16 KB): 8 KB here.
const gemini = (key?: string): Sent => ({
  path: `/v1beta/models/${huge(8 * 1024)}:generateContent`,
  headers: key === undefined ? {} : { "x-goog-api-key": key },
  body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
})

const send = async (s: Sent) => {
  const res = await fetch(`${gateway.url}${s.path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": `agent-${"u".repeat(4000)}`, ...s.headers },
    body: s.body,
  })
  await res.arrayBuffer()
  return res.status
}

const accessLog = () =>
  gateway
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes('"type":"access"'))

describe("bounded labels and log lines; every response logged (a real `sluice start`)", () => {
  it("100 KB model names leave /metrics small and log lines short; refusals and decode failures are recorded", async () => {
    const statuses = new Map<string, Array<number>>()
    const record = (what: string, status: number) => statuses.set(what, [...(statuses.get(what) ?? []), status])
    let sent = 0
    // Without a key: refused on the headers, in every format.
    for (let i = 0; i < 60; i++) {
      record("anonymous", await send(openai(huge(100 * 1024) + i)))
      record("anonymous", await send(anthropic(huge(100 * 1024) + i)))
      sent += 2
    }
    for (let i = 0; i < 10; i++, sent++) record("anonymous", await send(gemini()))
    // With an unknown key.
    for (let i = 0; i < 20; i++, sent++) record("unknown key", await send(openai(huge(100 * 1024) + i, "vk-nope")))
    // With a valid key: the model is refused (bad id or not routed), never a label.
    for (let i = 0; i < 20; i++) {
      record("valid key", await send(openai(huge(100 * 1024) + i, virtualKey)))
      record("valid key", await send(anthropic(huge(100 * 1024) + i, virtualKey)))
      sent += 2
    }
    for (let i = 0; i < 5; i++, sent++) record("valid key", await send(gemini(virtualKey)))
    // Bad JSON: from a caller without a key it is never parsed (401); with a key it is a 400.
    const badJson = { path: "/v1/chat/completions", body: '{"model": "gpt", "messages": [' }
    record("bad json, no key", await send({ ...badJson, headers: {} }))
    record("bad json, key", await send({ ...badJson, headers: { authorization: `Bearer ${virtualKey}` } }))
    // Over the body limit.
    record("too large", await send(openai(huge(2 * 1024 * 1024), virtualKey)))
    // And one that works.
    record("good", await send(openai("gpt", virtualKey)))
    sent += 4

    expect(statuses.get("anonymous")!.every((s) => s === 401)).toBe(true)
    expect(statuses.get("unknown key")!.every((s) => s === 401)).toBe(true)
    expect(statuses.get("valid key")!.every((s) => s === 400 || s === 404)).toBe(true)
    expect(statuses.get("bad json, no key")).toEqual([401])
    expect(statuses.get("bad json, key")).toEqual([400])
    expect(statuses.get("too large")).toEqual([413])
    expect(statuses.get("good")).toEqual([200])
    // Only the good request reached the upstream.
    expect(upstream.requests.length).toBe(1)

    const scrape = await fetch(`${gateway.url}/metrics`)
    const metrics = await scrape.text()
    expect(scrape.status).toBe(200)
    expect(metrics.length).toBeLessThan(64 * 1024)
    expect(metrics).not.toContain("aaaaaaaa")
    const models = new Set([...metrics.matchAll(/gen_ai_request_model="([^"]*)"/g)].map((m) => m[1]))
    expect(models.has("gpt")).toBe(true)
    for (const m of models) expect(["gpt", "other"]).toContain(m)
    // Refused and undecodable requests are counted.
    for (const type of ["Unauthenticated", "InvalidRequest", "PayloadTooLarge"])
      expect(metrics).toMatch(new RegExp(`sluice_errors_total\\{[^}]*error_type="${type}"[^}]*\\} [1-9]`))

    // Every response has its line, and no line is long.
    const lines = accessLog()
    expect(lines.length).toBe(sent)
    for (const l of lines) expect(l.length).toBeLessThan(4 * 1024)
    const parsed = lines.map((l) => JSON.parse(l) as { status: number; error?: { type: string } })
    expect(parsed.filter((l) => l.status === 413).map((l) => l.error?.type)).toEqual(["PayloadTooLarge"])
    expect(parsed.filter((l) => l.status === 401).length).toBe(
      statuses.get("anonymous")!.length + statuses.get("unknown key")!.length + 1,
    )
    expect(parsed.filter((l) => l.status === 200).length).toBe(1)
  }, 120_000)
})
