/**
 * A key's policy, typed: each middleware's part (ratelimit's `rateLimit`, budgets' `budget`,
 * guardrails' `guardrails`) is decoded by its own schema once, when the key is loaded — config
 * keys when the config is built (errors name the path), keys made through the admin API when
 * they are written (a 400 naming the field) and when read back from Redis (a record whose policy
 * does not decode is refused, naming the field).
 */
import { createHash, randomUUID } from "node:crypto"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Either, Exit } from "effect"
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Config } from "@sluice/core"
import { startGateway, type RunningGateway } from "../../../test/support/gateway.ts"
import * as Assemble from "../src/Assemble.ts"

const base = { providers: { mock: { type: "mock" } }, models: { mock: { provider: "mock", model: "mock" } } }
const secret = "sk-policy-test-0123456789abcdef"

/** The config error a build reports, or "built". */
const buildError = (raw: Record<string, unknown>) => {
  const parsed = Config.fromObject(raw, {})
  if (Either.isLeft(parsed)) return Promise.resolve(parsed.left.message)
  return Effect.runPromise(
    Effect.scoped(Assemble.build(parsed.right)).pipe(
      Effect.provide(NodeHttpClient.layerUndici),
      Effect.exit,
      Effect.map((exit) => (Exit.isFailure(exit) ? String(exit.cause) : "built")),
    ),
  )
}

const key = (fields: Record<string, unknown>) => ({ keys: [{ name: "a", key: secret, ...fields }] })

describe("config keys' policy, decoded when the config is built", () => {
  it("names the path of a malformed field, and never prints the key", async () => {
    const e = await buildError({ ...base, ...key({ rateLimit: { rpm: 0, tpm: "many" } }) })
    expect(e).toContain("keys[0].rateLimit.rpm")
    expect(e).toContain("keys[0].rateLimit.tpm")
    expect(e).not.toContain(secret)
  })

  it("refuses a field nothing would enforce: unknown, its middleware left out, or off under this config", async () => {
    expect(await buildError({ ...base, ...key({ rateLimt: { rpm: 1 } }) })).toContain(
      "keys[0].rateLimt: not a key policy field (known: budget, guardrails, rateLimit)",
    )
    expect(await buildError({ ...base, middleware: ["auth"], ...key({ rateLimit: { rpm: 1 } }) })).toContain(
      'keys[0].rateLimit: "ratelimit" is not in the middleware: list',
    )
    expect(await buildError({ ...base, ...key({ budget: { usd: 1 } }) })).toContain(
      "keys[0].budget: a budget needs a prices: section",
    )
    expect(await buildError({ ...base, ...key({ guardrails: ["strict"] }) })).toContain(
      "keys[0].guardrails: there is no guardrails: section",
    )
  })

  it("checks a key's guardrail names against the configured policies", async () => {
    const guardrails = { policies: { strict: { deny: { keywords: ["salary"] } } } }
    const e = await buildError({ ...base, guardrails, ...key({ guardrails: ["strict", "lenient"] }) })
    expect(e).toContain('keys[0].guardrails[1]: unknown policy "lenient" (guardrails.policies: strict)')
    expect(await buildError({ ...base, guardrails, ...key({ guardrails: ["strict"] }) })).toBe("built")
  })
})

describe("admin-made keys in Redis", () => {
  const prefix = `sluice-policy-${randomUUID().slice(0, 8)}:`
  const adminKey = "admin-key-policy-0123456789"
  const redis = new Redis("redis://127.0.0.1:6379")
  let gw: RunningGateway

  beforeAll(async () => {
    gw = await startGateway({
      ...base,
      redis: { url: "redis://127.0.0.1:6379", prefix },
      auth: { store: "redis", cacheTtl: "1s" },
      admin: { key: adminKey },
      guardrails: { policies: { strict: { deny: { keywords: ["salary"] } } }, global: [] },
      prices: { mock: { input: 1, output: 1 } },
    })
  })
  afterAll(async () => {
    await gw?.close()
    const stale = await redis.keys(`${prefix}*`)
    if (stale.length > 0) await redis.del(...stale)
    redis.disconnect()
  })

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  const chat = (apiKey: string, text = "hi") =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: text }] }),
    })
  const messageOf = async (r: Response) => ((await r.json()) as { error: { message: string } }).error.message

  it("a bad policy field is a 400 naming it; nothing is stored", async () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ rateLimit: { rpm: -1 } }, "rateLimit.rpm"],
      [{ budget: { usd: 1, period: "hourly" } }, "budget.period"],
      [{ guardrails: ["strict", "nope"] }, 'guardrails[1]: unknown policy "nope"'],
      [{ ratelimit: { rpm: 1 } }, "ratelimit: not a key policy field"],
    ]
    for (const [fields, expected] of cases) {
      const r = await admin("POST", "/admin/keys", { name: "bad", ...fields })
      expect(r.status).toBe(400)
      expect(await messageOf(r)).toContain(expected)
    }
    expect(await redis.hlen(`${prefix}auth:keys`)).toBe(0)
  })

  it("a stored key's policy is enforced typed, stored with its defaults, and cleared with null", async () => {
    const created = await admin("POST", "/admin/keys", {
      name: "team",
      rateLimit: { rpm: 1 },
      budget: { usd: 5 },
      guardrails: ["strict"],
    })
    expect(created.status).toBe(201)
    const body = (await created.json()) as { id: string; key: string }
    const stored = JSON.parse((await redis.hget(`${prefix}auth:keys`, body.id))!) as Record<string, unknown>
    expect(stored).toMatchObject({ rateLimit: { rpm: 1 }, budget: { usd: 5, period: "total" }, guardrails: ["strict"] })
    expect((await chat(body.key, "what is my salary")).status).toBe(400)
    expect((await chat(body.key)).status).toBe(429)

    const cleared = await admin("PATCH", `/admin/keys/${body.id}`, { rateLimit: null, guardrails: null })
    expect(cleared.status).toBe(200)
    const after = (await cleared.json()) as Record<string, unknown>
    expect(after.rateLimit).toBeUndefined()
    expect(after.budget).toEqual({ usd: 5, period: "total" })
    expect((await chat(body.key, "what is my salary")).status).toBe(200)
    expect((await chat(body.key)).status).toBe(200)
    const bad = await admin("PATCH", `/admin/keys/${body.id}`, { rateLimit: { rpm: "x" } })
    expect(bad.status).toBe(400)
    expect(await messageOf(bad)).toContain("rateLimit.rpm")
  })

  it("a record in Redis whose policy does not decode is refused (500 naming the field), not waved through", async () => {
    const plaintext = `sk-written-elsewhere-${randomUUID()}`
    const id = `key_${randomUUID().replaceAll("-", "")}`
    const record = {
      id,
      name: "elsewhere",
      keyHash: createHash("sha256").update(plaintext).digest("hex"),
      enabled: true,
      source: "store",
      rateLimit: { rpm: "unlimited" },
    }
    await redis
      .multi()
      .hset(`${prefix}auth:keys`, id, JSON.stringify(record))
      .hset(`${prefix}auth:hashes`, record.keyHash, id)
      .exec()
    const r = await chat(plaintext)
    expect(r.status).toBe(500)
    const message = await messageOf(r)
    expect(message).toContain('API key "elsewhere"')
    expect(message).toContain("rateLimit.rpm")
    expect(message).not.toContain(plaintext)
  })
})
