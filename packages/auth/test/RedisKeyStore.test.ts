/**
 * The Redis key store on the shared Redis (unique prefix per run): keys made on one instance
 * verify on another, and a revocation or rotation reaches an instance that had the key cached
 * within a second, through pub/sub. A Redis outage makes auth fail closed.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted, Scope } from "effect"
import { Redis } from "ioredis"
import { Stub } from "@sluice/testing"
import { afterAll } from "vitest"
import * as RedisServer from "../../ratelimit/test/support/RedisServer.ts"
import { Auth, Hash, type KeyRecord, RedisKeyStore } from "../src/index.ts"

const prefix = `sluice-test:${randomUUID()}:`
const scope = Effect.runSync(Scope.make())
afterAll(async () => {
  const cleaner = new Redis("redis://127.0.0.1:6379")
  const keys = await cleaner.keys(`${prefix}*`)
  if (keys.length > 0) await cleaner.del(...keys)
  cleaner.disconnect()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** Each call is a separate gateway instance: its own data and subscriber connections, its own cache. */
const instance = (url = "redis://127.0.0.1:6379", cacheTtlMs = 60_000) =>
  RedisKeyStore.connect({ url, prefix, cacheTtlMs, timeoutMs: 300 }).pipe(Scope.extend(scope))

const record = (key: string, overrides: Partial<KeyRecord.KeyRecord> = {}): KeyRecord.KeyRecord => ({
  id: `key_${randomUUID().slice(0, 8)}`,
  name: "fleet",
  keyHash: Hash.sha256(key),
  enabled: true,
  source: "store",
  ...overrides,
})

const waitUntil = async (check: () => Promise<boolean>, ms: number): Promise<number> => {
  const t0 = Date.now()
  while (Date.now() - t0 < ms) {
    if (await check()) return Date.now() - t0
    await new Promise((r) => setTimeout(r, 20))
  }
  return -1
}

describe("Redis key store", () => {
  it("a key created on one instance verifies on another; its revocation reaches the other within a second", async () => {
    const a = await Effect.runPromise(instance())
    const b = await Effect.runPromise(instance())
    const key = Hash.generateKey()
    const r = record(key)
    // B looks first and caches "unknown": the create notice must clear that too.
    expect(await Effect.runPromise(b.findByHash(r.keyHash))).toBeUndefined()
    await Effect.runPromise(a.writable!.put(r))
    expect(
      await waitUntil(async () => (await Effect.runPromise(b.findByHash(r.keyHash)))?.id === r.id, 1_000),
    ).toBeGreaterThanOrEqual(0)

    // B now serves the key from its cache; revoke on A.
    const handler = (await Effect.runPromise(Auth.middleware(b).build))(Stub.stub().handler)
    const call = () => Effect.runPromise(Effect.either(handler(Stub.chat({}, { credential: Redacted.make(key) }))))
    expect((await call())._tag).toBe("Right")
    // Proof that B answers from its cache: a change made behind its back (no notice) is not seen.
    const raw = new Redis("redis://127.0.0.1:6379")
    await raw.hdel(`${prefix}auth:hashes`, r.keyHash)
    raw.disconnect()
    expect((await call())._tag).toBe("Right")
    await Effect.runPromise(a.writable!.put({ ...r, enabled: false, revokedAt: new Date().toISOString() }))
    const took = await waitUntil(async () => {
      const res = await call()
      return res._tag === "Left" && res.left._tag === "Unauthenticated"
    }, 1_000)
    expect(took).toBeGreaterThanOrEqual(0)
    expect(took).toBeLessThan(1_000)
  })

  it("rotation: the old key stops verifying on the other instance, the new one works", async () => {
    const a = await Effect.runPromise(instance())
    const b = await Effect.runPromise(instance())
    const oldKey = Hash.generateKey()
    const r = record(oldKey)
    await Effect.runPromise(a.writable!.put(r))
    expect((await Effect.runPromise(b.findByHash(r.keyHash)))?.id).toBe(r.id)
    const newKey = Hash.generateKey()
    await Effect.runPromise(a.writable!.put({ ...r, keyHash: Hash.sha256(newKey) }, r.keyHash))
    const gone = await waitUntil(async () => (await Effect.runPromise(b.findByHash(r.keyHash))) === undefined, 1_000)
    expect(gone).toBeGreaterThanOrEqual(0)
    expect((await Effect.runPromise(b.findByHash(Hash.sha256(newKey))))?.id).toBe(r.id)
    expect((await Effect.runPromise(b.list)).some((x) => x.id === r.id)).toBe(true)
  })

  it("Redis down: a lookup fails fast and auth refuses (503), then recovers by itself", async () => {
    const server = await RedisServer.start()
    try {
      const store = await Effect.runPromise(instance(server.url))
      const key = Hash.generateKey()
      await Effect.runPromise(store.writable!.put(record(key)))
      const stub = Stub.stub()
      const handler = (await Effect.runPromise(Auth.middleware(store).build))(stub.handler)
      const call = () => Effect.runPromise(Effect.either(handler(Stub.chat({}, { credential: Redacted.make(key) }))))
      expect((await call())._tag).toBe("Right")
      await server.stop()
      const t0 = Date.now()
      const down = await call()
      expect(Date.now() - t0).toBeLessThan(1_000)
      // Even a cached key is refused: with the change feed down the cache could be stale.
      expect(down._tag === "Left" && down.left._tag).toBe("Unavailable")
      await server.start()
      // The server restarted empty (no persistence): the key is simply unknown now, and that is an answer again.
      const back = await waitUntil(async () => {
        const r = await call()
        return r._tag === "Left" && r.left._tag === "Unauthenticated"
      }, 10_000)
      expect(back).toBeGreaterThanOrEqual(0)
    } finally {
      await server.stop()
    }
  })
})
