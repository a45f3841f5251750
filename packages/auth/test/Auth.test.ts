/** The auth middleware alone, against a stub handler. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { Errors } from "@sluice/schema"
import { CurrentKey, type GatewayRequest, KeyPolicy } from "@sluice/core"
import { Stub } from "@sluice/testing"
import { Auth, Hash, type KeyRecord, KeyStore } from "../src/index.ts"

/** Two policy fields, as middleware packages contribute them (ratelimit's and budgets' look alike). */
const quota = KeyPolicy.field("quota", Schema.Struct({ rpm: Schema.Number.pipe(Schema.int(), Schema.positive()) }), {
  owner: "quota",
})
const tier = KeyPolicy.field(
  "tier",
  Schema.Struct({ name: Schema.String, level: Schema.optionalWith(Schema.Number, { default: () => 1 }) }),
  { owner: "tiers" },
)
const policies = KeyPolicy.decoder(undefined, [quota, tier])

const aliceKey = "sk-test-alice-0123456789abcdef"
const alice: KeyRecord.KeyRecord = {
  id: "alice",
  name: "alice",
  keyHash: Hash.sha256(aliceKey),
  models: ["gpt-4o*", "mock"],
  quota: { rpm: 10 },
  tier: { name: "gold" },
  enabled: true,
  source: "config",
}

const withKey = (key: string | undefined, chat: Parameters<typeof Stub.chat>[0] = {}) =>
  Stub.chat(chat, { credential: key === undefined ? undefined : Redacted.make(key) })

const build = (records: ReadonlyArray<KeyRecord.KeyRecord>, options: Auth.AuthOptions = {}) =>
  Effect.gen(function* () {
    const stub = Stub.stub()
    const handler = (yield* Auth.middleware(KeyStore.fromRecords(records), { policies, ...options }).build)(
      stub.handler,
    )
    return { stub, handler }
  })

describe("auth middleware", () => {
  it.effect("lets a valid key through with its principal, and drops the key from the context", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build([alice])
      const response = yield* handler(withKey(aliceKey))
      expect(response._tag).toBe("Chat")
      expect(stub.calls).toHaveLength(1)
      const ctx = stub.calls[0]!.ctx
      expect(ctx.principal).toEqual({
        id: "alice",
        name: "alice",
        allowedModels: ["gpt-4o*", "mock"],
        policy: { quota: { rpm: 10 }, tier: { name: "gold", level: 1 } },
      })
      // Decoded once when the key was loaded; each middleware reads its own part, typed.
      expect(quota.get(ctx.principal)?.rpm).toBe(10)
      expect(tier.get(ctx.principal)?.level).toBe(1)
      expect(ctx.credential).toBeUndefined()
    }),
  )

  it.effect("the key's identity is in the Effect context of the handler inside auth, and only there", () =>
    Effect.gen(function* () {
      const seen: Array<string | undefined> = []
      const stub = Stub.stub((request) =>
        Effect.flatMap(CurrentKey.get, (key) => {
          seen.push(key?.name)
          return Stub.stub().handler(request)
        }),
      )
      const handler = (yield* Auth.middleware(KeyStore.fromRecords([alice]), { policies }).build)(stub.handler)
      yield* handler(withKey(aliceKey))
      expect(seen).toEqual(["alice"])
      expect(yield* CurrentKey.get).toBeUndefined()
      // The same principal the request carries, policy and all.
      const current = yield* CurrentKey.serving(stub.calls[0]!.ctx.principal!)(CurrentKey.get)
      expect(quota.get(current)?.rpm).toBe(10)
    }),
  )

  it.effect("decodes a key's policy once per record, not per request", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build([alice])
      yield* handler(withKey(aliceKey))
      yield* handler(withKey(aliceKey))
      expect(stub.calls[0]!.ctx.principal!.policy).toBe(stub.calls[1]!.ctx.principal!.policy)
    }),
  )

  it.effect("refuses a key whose stored policy does not decode (500 naming the field), and one nothing enforces", () =>
    Effect.gen(function* () {
      const bobKey = "sk-test-bob-0123456789abcdef00"
      const bob: KeyRecord.KeyRecord = {
        ...alice,
        id: "bob",
        name: "bob",
        keyHash: Hash.sha256(bobKey),
        quota: { rpm: "x" },
      }
      const carolKey = "sk-test-carol-0123456789abcdef"
      const carol: KeyRecord.KeyRecord = {
        ...alice,
        id: "carol",
        name: "carol",
        keyHash: Hash.sha256(carolKey),
        rateLimit: { rpm: 1 },
      }
      const { stub, handler } = yield* build([alice, bob, carol])
      const bad = yield* Effect.flip(handler(withKey(bobKey)))
      expect(bad._tag).toBe("Internal")
      expect(bad.message).toContain('API key "bob"')
      expect(bad.message).toContain("quota.rpm")
      const unknown = yield* Effect.flip(handler(withKey(carolKey)))
      expect(unknown.message).toContain("rateLimit: not a key policy field (known: quota, tier)")
      expect(stub.calls).toHaveLength(0)
    }),
  )

  it.effect("refuses a request without a key (401) before the handler sees it", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build([alice])
      const error = yield* Effect.flip(handler(withKey(undefined)))
      expect(error._tag).toBe("Unauthenticated")
      expect(Errors.httpStatus(error)).toBe(401)
      expect(stub.calls).toHaveLength(0)
    }),
  )

  it.effect("refuses an unknown key (401) without echoing it", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build([alice])
      const wrong = `${aliceKey}x`
      const error = yield* Effect.flip(handler(withKey(wrong)))
      expect(error._tag).toBe("Unauthenticated")
      expect(error.message).not.toContain(wrong)
      expect(error.message).not.toContain("alice")
      expect(stub.calls).toHaveLength(0)
    }),
  )

  it.effect("refuses a model the key may not use (403), allows wildcard matches", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build([alice])
      const denied = yield* Effect.flip(handler(withKey(aliceKey, { model: "claude-3-opus" })))
      expect(denied._tag).toBe("PermissionDenied")
      expect(denied.message).toContain("claude-3-opus")
      expect(denied.message).not.toContain(aliceKey)
      yield* handler(withKey(aliceKey, { model: "gpt-4o-mini" }))
      expect(stub.calls.map((c) => (c._tag === "Chat" ? c.chat.model : ""))).toEqual(["gpt-4o-mini"])
    }),
  )

  it.effect("refuses a disabled key and an expired key (403)", () =>
    Effect.gen(function* () {
      const bobKey = "sk-test-bob-0123456789abcdef0"
      const carolKey = "sk-test-carol-0123456789abcdef"
      const { stub, handler } = yield* build(
        [
          { ...alice, id: "bob", name: "bob", keyHash: Hash.sha256(bobKey), enabled: false },
          {
            ...alice,
            id: "carol",
            name: "carol",
            keyHash: Hash.sha256(carolKey),
            expiresAt: "2020-01-01T00:00:00.000Z",
          },
        ],
        { now: () => Date.parse("2024-06-01T00:00:00Z") },
      )
      const disabled = yield* Effect.flip(handler(withKey(bobKey)))
      expect(disabled._tag).toBe("PermissionDenied")
      expect(disabled.message).toContain("disabled")
      const expired = yield* Effect.flip(handler(withKey(carolKey)))
      expect(expired._tag).toBe("PermissionDenied")
      expect(expired.message).toContain("expired")
      expect(stub.calls).toHaveLength(0)
    }),
  )

  it.effect("a key that has not expired yet passes", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build([{ ...alice, expiresAt: "2030-01-01T00:00:00.000Z" }], {
        now: () => Date.parse("2029-12-31T23:59:59Z"),
      })
      yield* handler(withKey(aliceKey))
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("lets a non-virtual key through untouched only for passthrough models", () =>
    Effect.gen(function* () {
      const own = "sk-provider-own-key-1234567890"
      const { stub, handler } = yield* build([alice], { passthrough: (m) => m.startsWith("byok/") })
      yield* handler(withKey(own, { model: "byok/gpt-4o" }))
      expect(stub.calls).toHaveLength(1)
      expect(stub.calls[0]!.ctx.principal).toBeUndefined()
      expect(Redacted.value(stub.calls[0]!.ctx.credential!)).toBe(own)
      const error = yield* Effect.flip(handler(withKey(own, { model: "gpt-4o" })))
      expect(error._tag).toBe("Unauthenticated")
      // A passthrough model still needs some credential.
      const none = yield* Effect.flip(handler(withKey(undefined, { model: "byok/gpt-4o" })))
      expect(none._tag).toBe("Unauthenticated")
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("a virtual key on a passthrough model is still a virtual key (never forwarded)", () =>
    Effect.gen(function* () {
      const { stub, handler } = yield* build([{ ...alice, models: undefined }], { passthrough: () => true })
      yield* handler(withKey(aliceKey, { model: "byok/gpt-4o" }))
      expect(stub.calls[0]!.ctx.principal?.id).toBe("alice")
      expect(stub.calls[0]!.ctx.credential).toBeUndefined()
    }),
  )

  it.effect("filters a model listing down to the key's models", () =>
    Effect.gen(function* () {
      const stub = Stub.stub(() =>
        Effect.succeed({
          _tag: "ListModels",
          models: [
            { id: "gpt-4o", provider: "openai" },
            { id: "claude-3-opus", provider: "anthropic" },
            { id: "mock", provider: "mock" },
          ],
          headers: {},
        }),
      )
      const handler = (yield* Auth.middleware(KeyStore.fromRecords([alice]), { policies }).build)(stub.handler)
      const request: GatewayRequest = {
        _tag: "ListModels",
        ctx: Stub.context({ credential: Redacted.make(aliceKey) }),
      }
      const response = yield* handler(request)
      expect(response._tag === "ListModels" && response.models.map((m) => m.id)).toEqual(["gpt-4o", "mock"])
    }),
  )

  it.effect("fails closed (503) when the key store fails", () =>
    Effect.gen(function* () {
      const broken: KeyStore.KeyStore = {
        findByHash: () => Effect.fail(new KeyStore.StoreUnavailable({ reason: "down" })),
        get: () => Effect.succeed(undefined),
        list: Effect.succeed([]),
      }
      const stub = Stub.stub()
      const handler = (yield* Auth.middleware(broken).build)(stub.handler)
      const error = yield* Effect.flip(handler(withKey(aliceKey)))
      expect(error._tag).toBe("Unavailable")
      expect(Errors.httpStatus(error)).toBe(503)
      expect(stub.calls).toHaveLength(0)
    }),
  )
})

describe("hashes", () => {
  it("compares digests in constant time and rejects malformed ones", () => {
    const h = Hash.sha256("x")
    expect(Hash.equalHashes(h, Hash.sha256("x"))).toBe(true)
    expect(Hash.equalHashes(h, Hash.sha256("y"))).toBe(false)
    expect(Hash.equalHashes(h, "zz")).toBe(false)
  })

  it("makes distinct, long keys", () => {
    const a = Hash.generateKey()
    expect(a).toMatch(/^sk-sluice-[A-Za-z0-9_-]{43}$/)
    expect(Hash.generateKey()).not.toBe(a)
  })
})
