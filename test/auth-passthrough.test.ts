/**
 * Through the whole gateway with the openai SDK: a passthrough provider lets a client's own
 * provider key through (and only for models routed there), a virtual key is never forwarded
 * upstream, and a streamed answer is priced — the usage admin route shows its spend.
 */
import { OpenAIUpstream } from "@sluice/testing"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const ownKey = "sk-client-own-openai-key-0000000001"
const virtualKey = "sk-test-virtual-0123456789abcdef"
const adminKey = "admin-0123456789abcdef-xyz"

let gw: RunningGateway
let upstream: OpenAIUpstream.OpenAIUpstream
beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: ownKey })
  gw = await startGateway({
    providers: {
      mock: { type: "mock" },
      byok: { type: "openai", baseUrl: upstream.baseUrl, passthrough: true },
    },
    models: { mock: { provider: "mock", model: "mock" }, "gpt-4o": { provider: "byok", model: "gpt-4o" } },
    keys: [{ name: "team", id: "team", key: virtualKey, budget: { usd: 100, period: "monthly" } }],
    prices: { mock: { input: 1000, output: 2000 }, "gpt-4o": { input: 2.5, output: 10 } },
    admin: { key: adminKey },
    resilience: { circuitBreaker: { failures: 1000 } },
  })
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
})

const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0 })
const ask = (apiKey: string, model: string) =>
  client(apiKey).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] })

describe("passthrough", () => {
  it("a client's own key reaches a passthrough provider", async () => {
    const r = await ask(ownKey, "gpt-4o")
    expect(r.choices[0]!.message.role).toBe("assistant")
    expect(upstream.chatBodies()).toHaveLength(1)
  })

  it("but is refused (401) for a model routed elsewhere", async () => {
    const e = await ask(ownKey, "mock").catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it("a virtual key on a passthrough model is verified and never forwarded upstream", async () => {
    const before = upstream.requests.length
    const e = await ask(virtualKey, "gpt-4o").catch((x) => x)
    // The byok provider has no key of its own, and the virtual key must not be sent in its place.
    expect(e).toBeInstanceOf(OpenAI.APIError)
    expect(e.status).toBe(401)
    // Whatever reached the upstream carried no client credential at all.
    const sent = upstream.requests.slice(before)
    for (const r of sent) expect(JSON.stringify(r.headers)).not.toContain(virtualKey)
    expect(sent.every((r) => r.headers.authorization === undefined || r.headers.authorization === "Bearer ")).toBe(true)
  })
})

describe("spend of a streamed answer", () => {
  it("is priced from the stream's final usage and shown by the usage admin route", async () => {
    const stream = await client(virtualKey).chat.completions.create({
      model: "mock",
      stream: true,
      messages: [{ role: "user", content: "count my tokens please" }],
    })
    for await (const _ of stream) {
    }
    const unauthorized = await fetch(`${gw.url}/admin/keys/team/usage`)
    expect(unauthorized.status).toBe(401)
    const res = await fetch(`${gw.url}/admin/keys/team/usage`, { headers: { authorization: `Bearer ${adminKey}` } })
    expect(res.status).toBe(200)
    const body = await res.json()
    const monthly = body.usage.monthly
    expect(monthly.requests).toBe(1)
    expect(monthly.inputTokens).toBeGreaterThan(0)
    expect(monthly.outputTokens).toBeGreaterThan(0)
    // $1000/M input, $2000/M output: a few tokens each is well above $0.
    expect(monthly.usd).toBeCloseTo((monthly.inputTokens * 1000 + monthly.outputTokens * 2000) / 1e6, 9)
    expect(monthly.resetsAt).toMatch(/T00:00:00.000Z$/)
  })
})
