/**
 * Per-key provider credentials (HasteKit's model): a virtual key may carry its own provider keys,
 * swapped in for the provider's on every attempt to that provider (retries and fallbacks per
 * provider), set through the config or the admin API, sealed at rest with auth.credentialKeys,
 * never returned, rotated without downtime, and shared by a fleet through the Redis store.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { Redis } from "ioredis"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AnthropicUpstream, OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const teamA = "sk-team-a-virtual-key-0001"
const teamB = "sk-team-b-virtual-key-0002"
const adminKey = "sk-admin-key-for-credentials-test"
const teamAOpenAI = "sk-team-a-own-openai-credential"
const providerOpenAI = "sk-gateway-openai-credential"
const k1 = randomBytes(32).toString("hex")
const k2 = randomBytes(32).toString("base64")

let openai: OpenAIUpstream.OpenAIUpstream
let anthropic: AnthropicUpstream.AnthropicMock
const redis = new Redis("redis://127.0.0.1:6379", { lazyConnect: true })
const prefix = `sluice-test:${randomUUID()}:`

const config = (credentialKeys: ReadonlyArray<string> | undefined, store: "memory" | "redis" = "memory") => ({
  providers: {
    openai: { type: "openai-compatible", baseUrl: openai.baseUrl, apiKey: providerOpenAI },
    anthropic: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-mock" },
  },
  models: {
    gpt: { provider: "openai", model: "gpt-4o-mini" },
    claude: { provider: "anthropic", model: "claude-sonnet-4-5" },
  },
  routes: [{ match: "primary", to: "gpt", fallbacks: ["claude"] }],
  keys: [
    { name: "team-a", key: teamA, providerKeys: { openai: "${TEAM_A_OPENAI}" } },
    { name: "team-b", key: teamB },
  ],
  admin: { key: adminKey },
  auth: { store, ...(credentialKeys !== undefined ? { credentialKeys } : {}) },
  ...(store === "redis" ? { redis: { url: "redis://127.0.0.1:6379", prefix } } : {}),
})
const env = { TEAM_A_OPENAI: teamAOpenAI }

const bearer = () => String(openai.requests.at(-1)?.headers.authorization ?? "")
const chat = (gateway: RunningGateway, key: string, model = "gpt", content = "hi") =>
  new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 }).chat.completions.create({
    model,
    messages: [{ role: "user", content }],
  })
const admin = (gateway: RunningGateway, method: string, path: string, body?: unknown) =>
  fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then(async (r) => ({ status: r.status, text: await r.text() }))

beforeAll(async () => {
  openai = await OpenAIUpstream.start()
  anthropic = await AnthropicUpstream.start()
  await redis.connect()
})
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
  await Promise.all([openai?.close(), anthropic?.upstream.close()])
})

describe("per-key provider credentials", () => {
  it("uses a key's own credential for its provider and the provider's for everyone else", async () => {
    const gateway = await startGateway(config(undefined), env)
    try {
      await chat(gateway, teamA)
      expect(bearer()).toBe(`Bearer ${teamAOpenAI}`)
      await chat(gateway, teamB)
      expect(bearer()).toBe(`Bearer ${providerOpenAI}`)
    } finally {
      await gateway.close()
    }
  })

  it("applies per provider across retries and fallbacks", async () => {
    const gateway = await startGateway(config(undefined), env)
    try {
      const before = openai.requests.length
      const r = await new OpenAI({ apiKey: teamA, baseURL: `${gateway.url}/v1`, maxRetries: 0 }).chat.completions
        .create({ model: "primary", messages: [{ role: "user", content: "fail:500" }] })
        .withResponse()
      expect(r.response.headers.get("x-sluice-target")).toBe("anthropic/claude-sonnet-4-5")
      // Every OpenAI attempt carried the key's credential; the Anthropic fallback the provider's (the mock checks it).
      for (const req of openai.requests.slice(before)) expect(req.headers.authorization).toBe(`Bearer ${teamAOpenAI}`)
      expect(anthropic.messages().length).toBeGreaterThan(0)
    } finally {
      await gateway.close()
    }
  })

  it("stores admin-set credentials sealed, never returns them, and a fleet shares them", async () => {
    const one = await startGateway(config([k1], "redis"), env)
    const two = await startGateway(config([k1], "redis"), env)
    try {
      const own = `sk-admin-set-credential-${randomUUID()}`
      const created = await admin(one, "POST", "/admin/keys", { name: "byok", providerKeys: { openai: own } })
      expect(created.status).toBe(201)
      expect(created.text).not.toContain(own)
      const { id, key, providerKeys } = JSON.parse(created.text) as { id: string; key: string; providerKeys: unknown }
      expect(providerKeys).toEqual(["openai"])
      for (const path of ["/admin/keys", `/admin/keys/${id}`]) {
        const read = await admin(one, "GET", path)
        expect(read.text).not.toContain(own)
        expect(read.text).not.toContain("v1.")
      }
      // At rest: only ciphertext.
      const raw = JSON.stringify(await redis.hgetall(`${prefix}auth:keys`))
      expect(raw).toContain(id)
      expect(raw).not.toContain(own)
      // The other instance opens it.
      await chat(two, key)
      expect(bearer()).toBe(`Bearer ${own}`)
      // Replaced without downtime: the next call uses the new credential.
      const replaced = `sk-admin-set-credential-${randomUUID()}`
      expect((await admin(one, "PATCH", `/admin/keys/${id}`, { providerKeys: { openai: replaced } })).status).toBe(200)
      await chat(one, key)
      expect(bearer()).toBe(`Bearer ${replaced}`)
      // Removed: back to the provider's own key.
      expect((await admin(one, "PATCH", `/admin/keys/${id}`, { providerKeys: { openai: null } })).status).toBe(200)
      await chat(one, key)
      expect(bearer()).toBe(`Bearer ${providerOpenAI}`)
    } finally {
      await one.close()
      await two.close()
    }
  })

  it("rotates the encryption key without downtime, and names a credential that cannot be opened", async () => {
    const old = await startGateway(config([k1], "redis"), env)
    const own = `sk-rotated-credential-${randomUUID()}`
    const created = JSON.parse(
      (await admin(old, "POST", "/admin/keys", { name: "rotating", providerKeys: { openai: own } })).text,
    ) as { key: string }
    await old.close()
    // New key first, old kept: still works; reseal moves the ciphertexts to the new key.
    const both = await startGateway(config([k2, k1], "redis"), env)
    try {
      await chat(both, created.key)
      expect(bearer()).toBe(`Bearer ${own}`)
      const resealed = JSON.parse((await admin(both, "POST", "/admin/credentials/reseal")).text)
      expect(resealed.resealed).toBeGreaterThanOrEqual(1)
      expect(resealed.failed).toEqual([])
    } finally {
      await both.close()
    }
    const fresh = await startGateway(config([k2], "redis"), env)
    try {
      await chat(fresh, created.key)
      expect(bearer()).toBe(`Bearer ${own}`)
    } finally {
      await fresh.close()
    }
    // A gateway without the key that sealed it: a clear 500 naming the API key, never the credential.
    const wrong = await startGateway(config([randomBytes(32).toString("hex")], "redis"), env)
    try {
      const failure = await chat(wrong, created.key).catch((e: unknown) => e)
      expect(failure).toMatchObject({ status: 500 })
      const message = String((failure as Error).message)
      expect(message).toMatch(/openai credential of API key "rotating" cannot be opened/)
      expect(message).not.toContain(own)
    } finally {
      await wrong.close()
    }
  })

  it("refuses bad input clearly", async () => {
    const gateway = await startGateway(config(undefined), env)
    try {
      const noKeys = await admin(gateway, "POST", "/admin/keys", { name: "x", providerKeys: { openai: "sk-abc" } })
      expect(noKeys.status).toBe(400)
      expect(noKeys.text).toMatch(/no auth\.credentialKeys/)
    } finally {
      await gateway.close()
    }
    const withKeys = await startGateway(config([k1]), env)
    try {
      const unknown = await admin(withKeys, "POST", "/admin/keys", { name: "x", providerKeys: { nope: "sk-abc" } })
      expect(unknown.status).toBe(400)
      expect(unknown.text).toMatch(/providerKeys\.nope: not a provider/)
    } finally {
      await withKeys.close()
    }
    // Section errors come from the auth plugin at build; startGateway surfaces them.
    await expect(startGateway({ ...config(["not-a-key"]) }, env)).rejects.toThrow(/auth\.credentialKeys\[0\]/)
    await expect(
      startGateway({ ...config(undefined), keys: [{ name: "a", key: teamA, providerKeys: { ghost: "sk-x" } }] }, env),
    ).rejects.toThrow(/keys\[0\]\.providerKeys\.ghost: not a provider/)
  })
})
