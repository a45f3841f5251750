/**
 * Bursts against a real `sluice start` on a healthy Redis: 200 concurrent requests for a key
 * limited to N per minute see N admitted (plus what the bucket refills while the burst lasts)
 * and the rest 429 — never a 503 — with the Redis store at its default timeout and with the
 * memory store. And a budget of $0.001/day: a burst spends no more than the budget (each
 * request reserves its worst case first), and the refusal prints "$0.001".
 */
import { randomUUID } from "node:crypto"
import { OpenAIUpstream } from "@sluice/testing"
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

const prefix = `sluice-test:${randomUUID()}:`
const limit = 37
const burst = 200
const keyFor = (store: string) => `sk-test-burst-${store}-0123456789abcdef`
const thriftyFor = (store: string) => `sk-test-thrifty-${store}-0123456789abcdef`

const running: Array<SluiceProcess> = []

const gateway = (store: "memory" | "redis") =>
  startSluice(
    [
      "providers:",
      "  mock: { type: mock }",
      `  slow: { type: openai, baseUrl: "${upstream.baseUrl}", apiKey: "${upstreamKey}" }`,
      "models:",
      "  mock: { provider: mock, model: mock }",
      "  priced: { provider: slow, model: gpt-4o-mini }",
      "redis:",
      "  url: redis://127.0.0.1:6379",
      `  prefix: "${prefix}${store}:"`,
      "rateLimit:",
      // The default timeout: a burst on a healthy Redis must not turn into 503s.
      `  store: ${store}`,
      "keys:",
      "  - name: bursty",
      `    key: ${keyFor(store)}`,
      `    rateLimit: { rpm: ${limit}, tpm: 100000000 }`,
      "  - name: thrifty",
      `    key: ${thriftyFor(store)}`,
      "    budget: { usd: 0.001, period: daily }",
      "prices:",
      "  priced: { input: 2.5, output: 10 }",
      "  gpt-4o-mini: { input: 2.5, output: 10 }",
      "budgets:",
      `  store: ${store}`,
      "",
    ].join("\n"),
  ).then((p) => {
    running.push(p)
    return p
  })

let memory: SluiceProcess
let redis: SluiceProcess
/** Answers after a pause (`delay:` in the prompt), so a whole burst is in flight at once. */
let upstream: OpenAIUpstream.OpenAIUpstream
const upstreamKey = "sk-upstream-limits-0001"

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: upstreamKey })
  ;[memory, redis] = await Promise.all([gateway("memory"), gateway("redis")])
}, 120_000)

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()))
  await upstream?.close()
  const cleaner = new Redis("redis://127.0.0.1:6379")
  const keys = await cleaner.keys(`${prefix}*`)
  if (keys.length > 0) await cleaner.del(...keys)
  cleaner.disconnect()
})

const fire = async (
  url: string,
  key: string,
  n: number,
  request: (i: number) => Record<string, unknown> = (i) => ({
    model: "mock",
    messages: [{ role: "user", content: `burst ${i} ${"lorem ipsum dolor sit amet ".repeat(40)}` }],
  }),
) => {
  const t0 = Date.now()
  const bodies: Array<string> = []
  const statuses = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(request(i)),
      }).then(async (r) => {
        bodies.push(await r.text())
        return r.status
      }),
    ),
  )
  const count = (s: number) => statuses.filter((x) => x === s).length
  return { ok: count(200), limited: count(429), unavailable: count(503), all: statuses, ms: Date.now() - t0, bodies }
}

describe(`a burst of ${burst} concurrent requests, limit ${limit}/min (real \`sluice start\`)`, () => {
  for (const store of ["redis", "memory"] as const) {
    it(`${store} store: ${limit} admitted (and no more than the refill), the rest 429, no 503`, async () => {
      const gw = store === "redis" ? redis : memory
      const r = await fire(gw.url, keyFor(store), burst)
      expect(r.unavailable, `statuses: ${JSON.stringify(r.all)}`).toBe(0)
      // The bucket refills continuously (one request every 60/limit s): a burst that lasts that
      // long on a loaded machine may see one more per refill, never more than that.
      const refilled = Math.floor((r.ms * limit) / 60_000)
      expect(r.ok, `burst took ${r.ms} ms`).toBeGreaterThanOrEqual(limit)
      expect(r.ok, `burst took ${r.ms} ms`).toBeLessThanOrEqual(limit + refilled)
      expect(r.ok + r.limited).toBe(burst)
    }, 60_000)
  }
})

/** Nano-USD the ledger holds for today for the key named `thrifty` (a config key's id is its name). */
const spentToday = async (store: string) => {
  const redis = new Redis("redis://127.0.0.1:6379")
  try {
    const day = new Date().toISOString().slice(0, 10)
    return Number((await redis.hget(`${prefix}${store}:spend:{thrifty}:d${day}`, "nanoUsd")) ?? 0)
  } finally {
    redis.disconnect()
  }
}

describe(`a burst of ${burst} concurrent requests on a $0.001/day budget (real \`sluice start\`)`, () => {
  it("redis store: admitted requests fit in the budget, the rest are 403 saying $0.001, no 503", async () => {
    const r = await fire(redis.url, thriftyFor("redis"), burst, priced)
    expect(r.unavailable).toBe(0)
    expect(r.ok).toBeGreaterThan(0)
    expect(r.ok + count403(r.all)).toBe(burst)
    const refusal = r.bodies.find((b) => b.includes("budget"))!
    expect(refusal).toContain("$0.001")
    expect(refusal).not.toContain("$0.00 ")
    const cost = costOfAnswers(r.bodies)
    expect(cost).toBeGreaterThan(0)
    expect(cost).toBeLessThanOrEqual(1_000_000)
    // Every hold was settled to the real cost: the ledger says exactly what the answers cost.
    expect(await spentToday("redis")).toBe(cost)
  }, 60_000)

  it("memory store: the same burst admits the same way", async () => {
    const r = await fire(memory.url, thriftyFor("memory"), burst, priced)
    expect(r.unavailable).toBe(0)
    expect(r.ok).toBeGreaterThan(0)
    expect(costOfAnswers(r.bodies)).toBeLessThanOrEqual(1_000_000)
    expect(r.ok + count403(r.all)).toBe(burst)
  }, 60_000)
})

const priced = (i: number) => ({
  model: "priced",
  max_tokens: 16,
  messages: [{ role: "user", content: `b${i} delay:100` }],
})

/** What the admitted answers cost at the configured price, in nano-USD, from the usage they report. */
const costOfAnswers = (bodies: ReadonlyArray<string>) =>
  bodies
    .map((b) => JSON.parse(b) as { usage?: { prompt_tokens: number; completion_tokens: number } })
    .reduce(
      (n, b) => n + (b.usage === undefined ? 0 : b.usage.prompt_tokens * 2_500 + b.usage.completion_tokens * 10_000),
      0,
    )

const count403 = (all: ReadonlyArray<number>) => all.filter((s) => s === 403).length
