/** The `auth` plugin from config: validation at start, and the admin API on a real HTTP server. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Redacted, Schema } from "effect"
import { Config, type HandlerFn, KeyPolicy } from "@sluice/core"
import { Policy as RatePolicy } from "@sluice/ratelimit"
import { Stub } from "@sluice/testing"
import { afterAll, beforeAll } from "vitest"
import { startGateway, type RunningGateway } from "../../../test/support/gateway.ts"
import { Hash, plugin } from "../src/index.ts"

const parse = (raw: Record<string, unknown>) => {
  const r = Config.fromObject(raw, {})
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

/** Started as the gateway starts it: with the key policy fields of ratelimit and budgets. */
const startError = (raw: Record<string, unknown>) =>
  Effect.scoped(plugin.fromConfig(parse(raw))).pipe(
    Effect.provideService(KeyPolicy.Policies, KeyPolicy.decoder(parse(raw), [RatePolicy.rateLimit, RatePolicy.budget])),
    Effect.exit,
    Effect.map((exit) => (Exit.isFailure(exit) ? String(exit.cause) : "started")),
  )

const base = { providers: { mock: { type: "mock" } }, models: { mock: { provider: "mock", model: "mock" } } }
const secret = "sk-config-secret-do-not-echo-0001"

describe("auth plugin config", () => {
  it.effect("is off (open gateway) when no key section is present", () =>
    Effect.gen(function* () {
      expect(yield* Effect.scoped(plugin.fromConfig(parse(base)))).toBeUndefined()
    }),
  )

  it.effect("names the bad path and never prints a key", () =>
    Effect.gen(function* () {
      const short = yield* startError({ ...base, keys: [{ name: "a", key: "short-secret" }] })
      expect(short).toContain("keys[0].key")
      expect(short).not.toContain("short-secret")
      const both = yield* startError({ ...base, keys: [{ name: "a", key: secret, keyHash: Hash.sha256(secret) }] })
      expect(both).toContain("either key or keyHash")
      expect(both).not.toContain(secret)
      const dup = yield* startError({
        ...base,
        keys: [
          { name: "a", key: secret },
          { name: "b", keyHash: Hash.sha256(secret) },
        ],
      })
      expect(dup).toContain("keys[1]")
      expect(dup).not.toContain(secret)
      const limits = yield* startError({ ...base, keys: [{ name: "a", key: secret, rateLimit: { rpm: -1 } }] })
      expect(limits).toContain("keys[0].rateLimit.rpm")
    }),
  )

  it.effect("refuses a plugin's key policy field named like a field auth reads itself", () =>
    Effect.gen(function* () {
      const models = KeyPolicy.field("models", Schema.Array(Schema.String), { owner: "confused" })
      const raw = { ...base, keys: [{ name: "a", key: secret }] }
      const error = yield* Effect.scoped(plugin.fromConfig(parse(raw))).pipe(
        Effect.provideService(KeyPolicy.Policies, KeyPolicy.decoder(parse(raw), [models])),
        Effect.flip,
      )
      expect(error.message).toContain('plugins: key policy field "models" is a field auth reads itself')
    }),
  )

  it.effect("refuses a budget with no price table, and a Redis store with no redis: section", () =>
    Effect.gen(function* () {
      const budget = yield* startError({ ...base, keys: [{ name: "a", key: secret, budget: { usd: 1 } }] })
      expect(budget).toContain("keys[0].budget")
      expect(budget).toContain("prices")
      const redis = yield* startError({ ...base, keys: [], auth: { store: "redis" } })
      expect(redis).toContain("auth.store")
    }),
  )
})

describe("auth in the assembled gateway + admin API", () => {
  const adminKey = "admin-key-0123456789-abcdef"
  let gw: RunningGateway
  let handler: HandlerFn
  beforeAll(async () => {
    gw = await startGateway({
      ...base,
      keys: [{ name: "ci", keyHash: Hash.sha256(secret), models: ["mock"] }],
      admin: { key: adminKey },
    })
    handler = gw.assembled.handler
  })
  afterAll(() => gw.close())

  const admin = (method: string, path: string, body?: unknown, key = adminKey) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })

  const call = (key: string) =>
    Effect.runPromise(Effect.either(handler(Stub.chat({}, { credential: Redacted.make(key) }))))

  it("installs auth in the pipeline", () => {
    expect(gw.assembled.middleware).toContain("auth")
  })

  it("refuses the admin API without the admin key", async () => {
    expect((await admin("GET", "/admin/keys", undefined, "wrong-admin-key-0123456789")).status).toBe(401)
    expect((await fetch(`${gw.url}/admin/keys`)).status).toBe(401)
  })

  it("config keys are listed (without hashes) and read-only", async () => {
    const list = await (await admin("GET", "/admin/keys")).json()
    expect(list.keys).toEqual([expect.objectContaining({ id: "ci", source: "config", enabled: true })])
    expect(JSON.stringify(list)).not.toContain(Hash.sha256(secret))
    expect((await admin("POST", "/admin/keys/ci/revoke")).status).toBe(409)
    expect(Either.isRight(await call(secret))).toBe(true)
  })

  it("create → use → rotate → revoke", async () => {
    const created = await admin("POST", "/admin/keys", { name: "team-a", models: ["mock"], rateLimit: { rpm: 5 } })
    expect(created.status).toBe(201)
    expect(created.headers.get("cache-control")).toBe("no-store")
    const body = await created.json()
    expect(body.key).toMatch(/^sk-sluice-/)
    expect(body.keyHash).toBeUndefined()
    expect(body).toMatchObject({ name: "team-a", models: ["mock"], rateLimit: { rpm: 5 }, enabled: true })
    const first = await call(body.key)
    expect(Either.isRight(first)).toBe(true)

    // The plaintext is never shown again.
    const read = await (await admin("GET", `/admin/keys/${body.id}`)).json()
    expect(read.key).toBeUndefined()
    expect(JSON.stringify(await (await admin("GET", "/admin/keys")).json())).not.toContain(body.key)

    const rotated = await (await admin("POST", `/admin/keys/${body.id}/rotate`)).json()
    expect(rotated.key).not.toBe(body.key)
    const old = await call(body.key)
    expect(Either.isLeft(old) && old.left._tag).toBe("Unauthenticated")
    expect(Either.isRight(await call(rotated.key))).toBe(true)

    const disabled = await admin("PATCH", `/admin/keys/${body.id}`, { enabled: false })
    expect(disabled.status).toBe(200)
    const refused = await call(rotated.key)
    expect(Either.isLeft(refused) && refused.left._tag).toBe("PermissionDenied")
    await admin("PATCH", `/admin/keys/${body.id}`, { enabled: true })

    const revoked = await admin("POST", `/admin/keys/${body.id}/revoke`)
    expect(revoked.status).toBe(200)
    expect((await revoked.json()).revokedAt).toBeDefined()
    const gone = await call(rotated.key)
    expect(Either.isLeft(gone) && gone.left._tag).toBe("Unauthenticated")
  })

  it("answers a bad admin body with a 400 naming the field", async () => {
    const res = await admin("POST", "/admin/keys", { name: "x", rateLimit: { rpm: "lots" } })
    expect(res.status).toBe(400)
    expect((await res.json()).error.message).toContain("rateLimit.rpm")
    const budget = await admin("POST", "/admin/keys", { name: "x", budget: { usd: 1 } })
    expect(budget.status).toBe(400)
    expect((await budget.json()).error.message).toContain("prices")
  })
})
