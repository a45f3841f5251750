/**
 * Reload keeps long-lived state: each config generation is built on the same service layer, so
 * keys made through the admin API (memory store), rate-limit buckets, breaker state and spend
 * survive a reload that leaves their own sections alone; a changed section is rebuilt (logged).
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Either, Exit, Layer, Logger, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Config } from "@sluice/core"
import { NodeServer } from "@sluice/server"
import * as Assemble from "../src/Assemble.ts"
import * as Reloader from "../src/Reloader.ts"

const adminKey = "admin-key-0123456789abcdef"
const staticKey = "sk-static-0123456789abcdef"

const configWith = (extra: { models?: Record<string, unknown>; cooldown?: string }) =>
  Either.getOrThrow(
    Config.fromObject(
      {
        providers: { mock: { type: "mock" } },
        models: { mock: { provider: "mock", model: "mock" }, ...extra.models },
        resilience: { circuitBreaker: { failures: 1, cooldown: extra.cooldown ?? "10m" } },
        keys: [{ name: "static", key: staticKey }],
        admin: { key: adminKey },
        prices: { mock: { input: 1000, output: 1000 } },
      },
      {},
    ),
  )

const logs: Array<string> = []
const scope = Effect.runSync(Scope.make())
let url = ""
let reload: (config: Config.GatewayConfig) => Promise<void>

beforeAll(async () => {
  const capture = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ message }) => logs.push((Array.isArray(message) ? message : [message]).join(" "))),
  )
  const program = Effect.gen(function* () {
    const reloader = yield* Reloader.make(configWith({}), (c, memoMap) => Assemble.build(c, { memoMap }))
    const server = yield* NodeServer.make(reloader.app, { host: "127.0.0.1", port: 0, shutdownTimeout: 2_000 })
    if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    return { reloader, port: server.address.port }
  }).pipe(Effect.provide(Layer.merge(Layer.extendScope(NodeHttpClient.layerUndici), capture)), Scope.extend(scope))
  const { reloader, port } = await Effect.runPromise(program)
  url = `http://127.0.0.1:${port}`
  reload = async (config) => {
    const r = await Effect.runPromise(reloader.reload(config).pipe(Effect.provide(capture)))
    if (Either.isLeft(r)) throw new Error(r.left.message)
  }
})

afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

const chat = (key: string, text: string, model = "mock") =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: text }] }),
  })

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

describe("a config reload on the same service layer", () => {
  it("keeps admin-made keys, buckets, breaker and spend; rebuilds a changed section", async () => {
    const created = (await (await admin("POST", "/admin/keys", { name: "made", rateLimit: { rpm: 2 } })).json()) as {
      id: string
      key: string
    }
    expect((await chat(created.key, "one")).status).toBe(200)
    // Open the breaker of model "flaky" (one failure opens it for ten minutes).
    await reload(configWith({ models: { flaky: { provider: "mock", model: "mock-b" } } }))
    expect((await chat(staticKey, "fail:500", "flaky")).status).toBe(500)
    expect((await chat(staticKey, "fine", "flaky")).status).toBe(503)
    const spentBefore = (await (await admin("GET", `/admin/keys/${created.id}/usage`)).json()) as {
      usage: { total: { requests: number; usd: number } }
    }
    expect(spentBefore.usage.total.requests).toBe(1)

    // A reload that changes other sections (models) only.
    await reload(
      configWith({ models: { flaky: { provider: "mock", model: "mock-b" }, other: { provider: "mock", model: "x" } } }),
    )
    expect((await chat(created.key, "two")).status).toBe(200) // the admin-made key still verifies
    expect((await chat(created.key, "three")).status).toBe(429) // and its bucket was not refilled
    expect((await chat(staticKey, "fine", "flaky")).status).toBe(503) // the breaker is still open
    const spentAfter = (await (await admin("GET", `/admin/keys/${created.id}/usage`)).json()) as typeof spentBefore
    expect(spentAfter.usage.total.requests).toBe(2) // spend kept and added to
    expect(spentAfter.usage.total.usd).toBeGreaterThan(spentBefore.usage.total.usd)
    expect(logs.some((l) => l.includes("its config changed"))).toBe(false)

    // Changing the breaker's own section rebuilds it (and says so); the rest is still kept.
    await reload(configWith({ models: { flaky: { provider: "mock", model: "mock-b" } }, cooldown: "9m" }))
    expect(logs.some((l) => l.startsWith("resilience.circuitBreaker: its config changed"))).toBe(true)
    expect((await chat(staticKey, "fine", "flaky")).status).toBe(200)
    expect((await chat(created.key, "four")).status).toBe(429)
  })

  it("mid-traffic: requests in flight across reloads share one bucket and one ledger, and the admin-made key verifies throughout", async () => {
    const made = (await (await admin("POST", "/admin/keys", { name: "busy", rateLimit: { rpm: 6 } })).json()) as {
      id: string
      key: string
    }
    // Three requests on each of three generations, each held 150 ms by the model while the
    // next reload happens (one token refills every 10 s: none do within this test).
    const traffic: Array<Promise<number>> = []
    for (const n of [1, 2, 3]) {
      for (let i = 0; i < 3; i++) traffic.push(chat(made.key, "delay:150 hi").then((r) => r.status))
      await reload(configWith({ models: { [`extra-${n}`]: { provider: "mock", model: "mock" } } }))
    }
    const statuses = await Promise.all(traffic)
    expect(statuses.filter((s) => s === 401)).toEqual([])
    expect(statuses.filter((s) => s === 200)).toHaveLength(6)
    expect(statuses.filter((s) => s === 429)).toHaveLength(3)
    // After the reloads the bucket is still spent, and the ledger counted every answer once.
    expect((await chat(made.key, "again")).status).toBe(429)
    const usage = (await (await admin("GET", `/admin/keys/${made.id}/usage`)).json()) as {
      usage: { total: { requests: number } }
    }
    expect(usage.usage.total.requests).toBe(6)
  })

  it("keeps stored Responses API responses: previous_response_id works across a reload", async () => {
    const respond = (body: Record<string, unknown>) =>
      fetch(`${url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${staticKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "mock", ...body }),
      })
    const first = (await (await respond({ input: "remember me" })).json()) as { id: string }
    expect(first.id).toMatch(/^resp_/)
    await reload(configWith({ models: { later: { provider: "mock", model: "mock-c" } } }))
    const read = await fetch(`${url}/v1/responses/${first.id}`, { headers: { authorization: `Bearer ${staticKey}` } })
    expect(read.status).toBe(200)
    const next = await respond({ input: "and now?", previous_response_id: first.id })
    expect(next.status).toBe(200)
  })
})
