import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { CacheControl, Entry, Key, Store } from "../src/index.ts"

const resolution = (provider: string, model: string) => ({
  requested: "m",
  candidates: [{ id: "m", deployments: [{ provider, model, weight: 1 }] }],
})
const chat = (text: string, extra: Record<string, unknown> = {}) => ({
  model: "m",
  stream: false,
  messages: [{ role: "user" as const, parts: [{ type: "text" as const, text }] }],
  ...extra,
})

describe("cache key", () => {
  it("ignores key order, stream, user and the alias asked for", () => {
    const a = Key.of({ scope: "s", resolution: resolution("p", "x"), chat: chat("hi", { temperature: 0, topP: 1 }) })
    const b = Key.of({
      scope: "s",
      resolution: resolution("p", "x"),
      chat: { ...chat("hi", { topP: 1, temperature: 0 }), model: "alias", stream: true, user: "u" },
    })
    expect(a).toBe(b)
  })

  it("differs by scope, deployment, message and parameter", () => {
    const base = { scope: "s", resolution: resolution("p", "x"), chat: chat("hi") }
    const variants = [
      { ...base, scope: "t" },
      { ...base, resolution: resolution("p", "y") },
      { ...base, chat: chat("ho") },
      { ...base, chat: chat("hi", { temperature: 0.1 }) },
      { ...base, policy: ["strict"] },
    ]
    const keys = new Set([Key.of(base), ...variants.map((v) => Key.of(v))])
    expect(keys.size).toBe(variants.length + 1)
  })
})

describe("cache-control", () => {
  it("reads no-cache and no-store among other directives", () => {
    expect(CacheControl.parse(undefined)).toEqual({ noCache: false, noStore: false })
    expect(CacheControl.parse("max-age=0, No-Cache")).toEqual({ noCache: true, noStore: false })
    expect(CacheControl.parse("no-store")).toEqual({ noCache: true, noStore: true })
  })
})

describe("entries", () => {
  const response = {
    id: "r",
    model: "x",
    parts: [{ type: "text" as const, text: "hello" }],
    finishReason: "stop" as const,
    usage: { inputTokens: 3, outputTokens: 1 },
    created: 1,
  }
  it("round-trip, and a corrupt or foreign value is a miss", () => {
    expect(Entry.parse(Entry.serialize(response, 5))).toEqual({ v: 1, storedAt: 5, response })
    expect(Entry.parse("{not json")).toBeUndefined()
    expect(Entry.parse(JSON.stringify({ v: 2, storedAt: 1, response }))).toBeUndefined()
    expect(Entry.parse(JSON.stringify({ v: 1, storedAt: 1, response: { ...response, parts: "x" } }))).toBeUndefined()
  })
  it("are not made from answers cut off by an error or a filter", () => {
    expect(Entry.cacheable(response)).toBe(true)
    expect(Entry.cacheable({ ...response, finishReason: "content_filter" })).toBe(false)
    expect(Entry.cacheable({ ...response, finishReason: "error" })).toBe(false)
  })
})

describe("memory store", () => {
  it("evicts the least recently used entry and expires by TTL", async () => {
    const store = Store.memory({ maxEntries: 2, maxBytes: 1_000 })
    const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e)
    await run(store.set("a", "1", 60_000))
    await run(store.set("b", "2", 60_000))
    expect(await run(store.get("a"))).toBe("1")
    await run(store.set("c", "3", 60_000))
    expect(await run(store.get("b"))).toBeUndefined()
    expect(await run(store.get("a"))).toBe("1")
    await run(store.set("d", "4", 1))
    await new Promise((r) => setTimeout(r, 20))
    expect(await run(store.get("d"))).toBeUndefined()
  })
})
