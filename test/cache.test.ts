/**
 * The response cache through the official SDKs: one upstream call for the same request asked
 * twice — whole or streamed, from OpenAI, Anthropic and Gemini clients alike — misses for another
 * key or `cache-control: no-cache`, coalesced concurrent requests, and a Redis cache shared by
 * two gateways.
 */
import Anthropic from "@anthropic-ai/sdk"
import { GoogleGenAI } from "@google/genai"
import OpenAI from "openai"
import { randomUUID } from "node:crypto"
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const keys = { a: "sk-cache-key-aaaaaaaaaaaa", b: "sk-cache-key-bbbbbbbbbbbb", c: "sk-cache-key-cccccccccccc" }
const adminKey = "sk-admin-cache-test-0123456789"
let up: OpenAIUpstream.OpenAIUpstream
let gw: RunningGateway

const base = (upUrl: string) => ({
  providers: { oa: { type: "openai", baseUrl: upUrl, apiKey: "sk-openai-upstream" } },
  models: {
    cached: { provider: "oa", model: "gpt-4o-mini" },
    "also-cached": { provider: "oa", model: "gpt-4o-mini" },
    fresh: { provider: "oa", model: "gpt-4o" },
  },
  keys: [
    { name: "a", key: keys.a },
    { name: "b", key: keys.b },
  ],
})

beforeAll(async () => {
  up = await OpenAIUpstream.start({ apiKey: "sk-openai-upstream" })
  gw = await startGateway({
    ...base(up.baseUrl),
    keys: [...base(up.baseUrl).keys, { name: "c", key: keys.c, budget: { usd: 1 } }],
    cache: { models: ["*cached"], ttl: "5m" },
    admin: { key: adminKey },
    prices: { "gpt-4o-mini": { input: 1, output: 2 }, "gpt-4o": { input: 1, output: 2 } },
    metrics: {},
  })
})

afterAll(async () => {
  await gw?.close()
  await up?.close()
})

const calls = () => up.chatBodies().length
const openai = (key = keys.a, url = gw.url, headers: Record<string, string> = {}) =>
  new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0, defaultHeaders: headers })
const prompt = (what: string) => `cache test ${what} ${randomUUID()}`

const askOpenAI = async (client: OpenAI, model: string, content: string, stream: boolean) => {
  if (!stream) {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: "user", content }] })
      .withResponse()
    return { text: data.choices[0]!.message.content ?? "", cache: response.headers.get("x-sluice-cache") }
  }
  const { data, response } = await client.chat.completions
    .create({ model, stream: true, messages: [{ role: "user", content }] })
    .withResponse()
  let text = ""
  for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? ""
  return { text, cache: response.headers.get("x-sluice-cache") }
}

describe("response cache", () => {
  it("answers the same request twice with one upstream call, whole and streamed", async () => {
    const p = prompt("whole")
    const before = calls()
    const first = await askOpenAI(openai(), "cached", p, false)
    const second = await askOpenAI(openai(), "cached", p, false)
    expect(first).toEqual({ text: `echo: ${p}`, cache: "miss" })
    expect(second).toEqual({ text: `echo: ${p}`, cache: "hit" })
    // Another alias of the same deployment is the same model as resolved.
    expect((await askOpenAI(openai(), "also-cached", p, true)).cache).toBe("hit")
    expect(calls() - before).toBe(1)

    const q = prompt("streamed")
    const s1 = await askOpenAI(openai(), "cached", q, true)
    const s2 = await askOpenAI(openai(), "cached", q, true)
    const whole = await askOpenAI(openai(), "cached", q, false)
    expect(s1).toEqual({ text: `echo: ${q}`, cache: "miss" })
    expect(s2).toEqual({ text: `echo: ${q}`, cache: "hit" })
    expect(whole).toEqual({ text: `echo: ${q}`, cache: "hit" })
    expect(calls() - before).toBe(2)
  })

  it("lets a Gemini or Anthropic client hit what an OpenAI client cached", async () => {
    const p = prompt("cross")
    const before = calls()
    expect((await askOpenAI(openai(), "cached", p, true)).cache).toBe("miss")

    const gemini = new GoogleGenAI({ apiKey: keys.a, httpOptions: { baseUrl: gw.url } })
    const g = await gemini.models.generateContent({
      model: "cached",
      contents: [{ role: "user", parts: [{ text: p }] }],
    })
    expect(g.text).toBe(`echo: ${p}`)
    expect(g.sdkHttpResponse?.headers?.["x-sluice-cache"]).toBe("hit")
    let streamed = ""
    for await (const chunk of await gemini.models.generateContentStream({
      model: "cached",
      contents: [{ role: "user", parts: [{ text: p }] }],
    }))
      streamed += chunk.text ?? ""
    expect(streamed).toBe(`echo: ${p}`)

    expect(calls() - before).toBe(1)

    // Anthropic clients must send max_tokens: the same limit from an OpenAI client is the same request.
    const q = prompt("cross-anthropic")
    await openai().chat.completions.create({
      model: "cached",
      max_tokens: 512,
      messages: [{ role: "user", content: q }],
    })
    const anthropic = new Anthropic({ apiKey: keys.a, baseURL: gw.url, maxRetries: 0 })
    const { data, response } = await anthropic.messages
      .create({ model: "cached", max_tokens: 512, messages: [{ role: "user", content: q }] })
      .withResponse()
    expect(response.headers.get("x-sluice-cache")).toBe("hit")
    expect(data.content[0]).toMatchObject({ type: "text", text: `echo: ${q}` })
    const streamed2 = await anthropic.messages
      .stream({ model: "cached", max_tokens: 512, messages: [{ role: "user", content: q }] })
      .finalMessage()
    expect(streamed2.content[0]).toMatchObject({ type: "text", text: `echo: ${q}` })
    expect(calls() - before).toBe(2)
  })

  it("misses for another key, for no-cache and for no-store, and leaves other models alone", async () => {
    const p = prompt("scope")
    const before = calls()
    await askOpenAI(openai(keys.a), "cached", p, false)
    expect((await askOpenAI(openai(keys.b), "cached", p, false)).cache).toBe("miss")
    expect(calls() - before).toBe(2)
    expect((await askOpenAI(openai(keys.a, gw.url, { "cache-control": "no-cache" }), "cached", p, false)).cache).toBe(
      "bypass",
    )
    expect((await askOpenAI(openai(keys.a, gw.url, { "cache-control": "no-store" }), "cached", p, true)).cache).toBe(
      "bypass",
    )
    expect(calls() - before).toBe(4)
    // Other parameters are another request.
    await openai().chat.completions.create({
      model: "cached",
      temperature: 0.5,
      messages: [{ role: "user", content: p }],
    })
    expect(calls() - before).toBe(5)
    // Not opted in: no header, every request goes upstream.
    const r1 = await askOpenAI(openai(), "fresh", p, false)
    const r2 = await askOpenAI(openai(), "fresh", p, false)
    expect([r1.cache, r2.cache]).toEqual([null, null])
    expect(calls() - before).toBe(7)
  })

  it("coalesces identical requests in flight into one upstream call", async () => {
    const p = `${prompt("coalesce")} delay:40`
    const before = calls()
    const answers = await Promise.all([
      askOpenAI(openai(), "cached", p, true),
      askOpenAI(openai(), "cached", p, false),
      askOpenAI(openai(), "cached", p, true),
    ])
    expect(answers.map((a) => a.text)).toEqual([`echo: ${p}`, `echo: ${p}`, `echo: ${p}`])
    expect(answers.map((a) => a.cache).sort()).toEqual(["hit", "hit", "miss"])
    expect(calls() - before).toBe(1)
  })
})

describe("response cache accounting", () => {
  const spend = async (id: string) => {
    const res = await fetch(`${gw.url}/admin/keys/${id}/usage`, { headers: { authorization: `Bearer ${adminKey}` } })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { usage: { total: { usd: number; requests: number } } }
    return body.usage.total
  }
  const counter = (text: string, name: string, cache: string) =>
    text
      .split("\n")
      .filter(
        (l) => l.startsWith(`${name}{`) && l.includes(`sluice_cache="${cache}"`) && l.includes('sluice_key_name="c"'),
      )
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)

  it("charges nothing for a hit and reports it in the metrics with the tokens saved", async () => {
    const p = prompt("budget")
    await askOpenAI(openai(keys.c), "cached", p, false)
    const afterMiss = await spend("c")
    expect(afterMiss.requests).toBe(1)
    expect(afterMiss.usd).toBeGreaterThan(0)
    expect((await askOpenAI(openai(keys.c), "cached", p, true)).cache).toBe("hit")
    expect((await askOpenAI(openai(keys.c), "cached", p, false)).cache).toBe("hit")
    expect(await spend("c")).toEqual(afterMiss)

    const metrics = await (await fetch(`${gw.url}/metrics`)).text()
    expect(counter(metrics, "sluice_requests_total", "hit")).toBe(2)
    expect(counter(metrics, "sluice_requests_total", "miss")).toBe(1)
    expect(counter(metrics, "sluice_cache_tokens_saved_total", "hit")).toBeGreaterThan(0)
  })
})

describe("response cache in Redis", () => {
  const prefix = `sluice-test-${randomUUID()}:`
  let other: RunningGateway
  let first: RunningGateway
  let redis: Redis

  beforeAll(async () => {
    const config = {
      ...base(up.baseUrl),
      redis: { url: "redis://127.0.0.1:6379", prefix },
      cache: { models: ["cached"], store: "redis", scope: "namespace", namespace: "fleet" },
    }
    first = await startGateway(config)
    other = await startGateway(config)
    redis = new Redis("redis://127.0.0.1:6379")
  })

  afterAll(async () => {
    await Promise.all([first?.close(), other?.close()])
    if (redis !== undefined) {
      const stale = await redis.keys(`${prefix}*`)
      if (stale.length > 0) await redis.del(...stale)
      redis.disconnect()
    }
  })

  it("is shared by two gateways (and, in a namespace, by every key)", async () => {
    const p = prompt("fleet")
    const before = calls()
    expect((await askOpenAI(openai(keys.a, first.url), "cached", p, true)).cache).toBe("miss")
    expect(await askOpenAI(openai(keys.b, other.url), "cached", p, false)).toEqual({
      text: `echo: ${p}`,
      cache: "hit",
    })
    expect(calls() - before).toBe(1)
    const stored = await redis.keys(`${prefix}cache:*`)
    expect(stored.length).toBe(1)
    expect(await redis.pttl(stored[0]!)).toBeGreaterThan(0)
  })
})
