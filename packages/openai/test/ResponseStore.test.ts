import { randomUUID } from "node:crypto"
import { Effect, Either, Exit, Redacted, Scope } from "effect"
import { Redis } from "ioredis"
import { afterAll, describe, expect, it } from "vitest"
import { Redis as RedisConn } from "@sluice/auth"
import * as MemoryResponseStore from "../src/MemoryResponseStore.ts"
import * as RedisResponseStore from "../src/RedisResponseStore.ts"
import * as ResponsesConfig from "../src/ResponsesConfig.ts"
import * as ResponsesHistory from "../src/ResponsesHistory.ts"
import { type StoredResponse, scopeOf, validId } from "../src/ResponseStore.ts"
import type * as W from "../src/ResponsesWire.ts"

const stored = (id: string, previous: string | null, text: string): StoredResponse => ({
  input: [{ type: "message", id: `msg_in_${id}`, role: "user", content: [{ type: "input_text", text }] }],
  response: {
    id,
    previous_response_id: previous,
    output: [
      {
        type: "message",
        id: `msg_out_${id}`,
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: `re: ${text}`, annotations: [], logprobs: [] }],
      },
    ],
  } as unknown as W.Response,
})

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

describe("ResponseStore ids and scopes", () => {
  it("accepts OpenAI-style ids only, bounded", () => {
    expect(validId("resp_0123abcDEF-x")).toBe(true)
    for (const bad of ["", "a/b", "a:b", "a b", "é", "x".repeat(129), "a\nb"]) expect(validId(bad)).toBe(false)
  })

  it("scopes by a hash of the credential, never the credential; anonymous without one", () => {
    const ctx = (key: string | undefined) =>
      ({ credential: key === undefined ? undefined : Redacted.make(key) }) as Parameters<typeof scopeOf>[0]
    expect(scopeOf(ctx(undefined))).toBe("anonymous")
    expect(scopeOf(ctx("sk-a"))).toMatch(/^[0-9a-f]{64}$/)
    expect(scopeOf(ctx("sk-a"))).toBe(scopeOf(ctx("sk-a")))
    expect(scopeOf(ctx("sk-a"))).not.toBe(scopeOf(ctx("sk-b")))
  })
})

describe("MemoryResponseStore", () => {
  it("keeps per scope, finds items, deletes", async () => {
    const store = MemoryResponseStore.make({ ttlMs: 60_000, maxBytes: 1_000_000 })
    await run(store.put("a", stored("resp_1", null, "hi")))
    expect((await run(store.get("a", "resp_1")))?.response.id).toBe("resp_1")
    expect(await run(store.get("b", "resp_1"))).toBeUndefined()
    expect((await run(store.findItem("a", "msg_out_resp_1")))?.response.id).toBe("resp_1")
    expect((await run(store.findItem("a", "msg_in_resp_1")))?.response.id).toBe("resp_1")
    expect(await run(store.findItem("b", "msg_in_resp_1"))).toBeUndefined()
    expect(await run(store.delete("b", "resp_1"))).toBe(false)
    expect(await run(store.delete("a", "resp_1"))).toBe(true)
    expect(await run(store.get("a", "resp_1"))).toBeUndefined()
    expect(await run(store.findItem("a", "msg_out_resp_1"))).toBeUndefined()
  })

  it("forgets a response its ttl after it was last read", async () => {
    let now = 1_000
    const store = MemoryResponseStore.make({ ttlMs: 100, maxBytes: 1_000_000, now: () => now })
    await run(store.put("a", stored("resp_1", null, "hi")))
    now += 80
    expect(await run(store.get("a", "resp_1"))).toBeDefined()
    now += 80 // 160 after the write, 80 after the read
    expect(await run(store.get("a", "resp_1"))).toBeDefined()
    now += 101
    expect(await run(store.get("a", "resp_1"))).toBeUndefined()
  })

  it("stays within its size, dropping the least recently used", async () => {
    const one = JSON.stringify(stored("resp_0", null, "x".repeat(1000))).length
    const store = MemoryResponseStore.make({ ttlMs: 60_000, maxBytes: one * 3 + 10 })
    for (let i = 0; i < 5; i++) await run(store.put("a", stored(`resp_${i}`, null, "x".repeat(1000))))
    const kept = await Promise.all([0, 1, 2, 3, 4].map((i) => run(store.get("a", `resp_${i}`))))
    expect(kept.map((k) => k !== undefined)).toEqual([false, false, true, true, true])
  })
})

describe("ResponsesHistory.chain", () => {
  it("follows previous_response_id to the start, oldest first; a gap names the missing response", async () => {
    const store = MemoryResponseStore.make({ ttlMs: 60_000, maxBytes: 1_000_000 })
    await run(store.put("s", stored("resp_a", null, "one")))
    await run(store.put("s", stored("resp_b", "resp_a", "two")))
    await run(store.put("s", stored("resp_c", "resp_b", "three")))
    const chain = await run(ResponsesHistory.chain(store, "s", "resp_c"))
    expect(chain.map((r) => r.response.id)).toEqual(["resp_a", "resp_b", "resp_c"])
    expect(ResponsesHistory.itemsOf(chain).map((i) => i.id)).toEqual([
      "msg_in_resp_a",
      "msg_out_resp_a",
      "msg_in_resp_b",
      "msg_out_resp_b",
      "msg_in_resp_c",
      "msg_out_resp_c",
    ])
    await run(store.delete("s", "resp_a"))
    const gap = await Effect.runPromise(Effect.either(ResponsesHistory.chain(store, "s", "resp_c")))
    if (Either.isRight(gap)) throw new Error("expected a failure")
    expect(gap.left).toMatchObject({ status: 400, param: "previous_response_id", code: "previous_response_not_found" })
    expect(gap.left.message).toContain("'resp_a'")
    const bad = await Effect.runPromise(Effect.either(ResponsesHistory.chain(store, "s", "../x")))
    if (Either.isRight(bad)) throw new Error("expected a failure")
    expect(bad.left).toMatchObject({ status: 400, param: "previous_response_id" })
    expect(bad.left.message).not.toContain("../x")
  })
})

describe("RedisResponseStore", () => {
  const redis = new Redis("redis://127.0.0.1:6379")
  const prefix = `sluice-test-${randomUUID().slice(0, 8)}:`
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  it("round-trips a response, and ignores what it did not write", async () => {
    const store = RedisResponseStore.make({ redis, prefix, ttlMs: 60_000, timeoutMs: 2_000 })
    await run(store.put("s", stored("resp_1", null, "hi")))
    expect(await run(store.get("s", "resp_1"))).toEqual(stored("resp_1", null, "hi"))
    expect((await run(store.findItem("s", "msg_out_resp_1")))?.response.id).toBe("resp_1")
    expect(await redis.pttl(`${prefix}responses:s:r:resp_1`)).toBeGreaterThan(59_000 - 5_000)
    await redis.set(`${prefix}responses:s:r:resp_2`, "not json")
    await redis.set(`${prefix}responses:s:r:resp_3`, JSON.stringify({ input: [{ type: "nope" }], response: {} }))
    expect(await run(store.get("s", "resp_2"))).toBeUndefined()
    expect(await run(store.get("s", "resp_3"))).toBeUndefined()
    expect(await run(store.delete("s", "resp_1"))).toBe(true)
    expect(await run(store.get("s", "resp_1"))).toBeUndefined()
  })

  it("an unreachable Redis is StoreUnavailable, not a hang", async () => {
    const scope = Effect.runSync(Scope.make())
    const down = await Effect.runPromise(Scope.extend(RedisConn.connect({ url: "redis://127.0.0.1:1" }), scope))
    const store = RedisResponseStore.make({ redis: down, prefix, ttlMs: 60_000, timeoutMs: 2_000 })
    const r = await Effect.runPromise(Effect.either(store.get("s", "resp_1")))
    await Effect.runPromise(Scope.close(scope, Exit.void))
    if (Either.isRight(r)) throw new Error("expected a failure")
    expect(r.left._tag).toBe("StoreUnavailable")
  })
})

describe("ResponsesConfig", () => {
  const build = (section: unknown, redis?: unknown) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.either(
          ResponsesConfig.fromConfig({ responses: section, redis } as unknown as Parameters<
            typeof ResponsesConfig.fromConfig
          >[0]),
        ),
      ),
    )

  it("defaults to a memory store; none keeps nothing", async () => {
    const memory = await build(undefined)
    expect(Either.isRight(memory) && memory.right !== undefined).toBe(true)
    const none = await build({ store: "none" })
    expect(Either.isRight(none) && none.right === undefined).toBe(true)
  })

  it("names the bad key", async () => {
    const cases: Array<[unknown, unknown, string]> = [
      [{ store: "redis" }, undefined, "responses.store"],
      [{ store: "disk" }, undefined, "responses.store"],
      [{ ttl: "soon" }, undefined, "responses.ttl"],
      [{ ttl: 0 }, undefined, "responses.ttl"],
      [{ maxSize: "lots" }, undefined, "responses.maxSize"],
      [{ stor: "memory" }, undefined, "responses.stor"],
    ]
    for (const [section, redis, path] of cases) {
      const r = await build(section, redis)
      if (Either.isRight(r)) throw new Error(`expected ${path} to be refused`)
      expect(r.left.issues.map((i) => i.path)).toContain(path)
    }
  })
})
