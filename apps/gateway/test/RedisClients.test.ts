/**
 * One Redis client set per process: with keys, rate limits and budgets all in Redis, the gateway
 * holds one command connection and one subscriber — across a config reload too.
 */
import { randomUUID } from "node:crypto"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Either, Exit, Layer, Scope } from "effect"
import { Redis } from "ioredis"
import { afterAll, describe, expect, it } from "vitest"
import { Config } from "@sluice/core"
import * as Assemble from "../src/Assemble.ts"
import * as Reloader from "../src/Reloader.ts"

const name = `sluice-test-${randomUUID().slice(0, 8)}`
const probe = new Redis("redis://127.0.0.1:6379", { lazyConnect: true })
const scope = Effect.runSync(Scope.make())

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  probe.disconnect()
})

const configWith = (models: ReadonlyArray<string>) =>
  Either.getOrThrow(
    Config.fromObject(
      {
        providers: { mock: { type: "mock" } },
        models: Object.fromEntries(models.map((m) => [m, { provider: "mock", model: "mock" }])),
        redis: { url: "redis://127.0.0.1:6379", prefix: `${name}:`, clientName: name },
        auth: { store: "redis" },
        admin: { key: "admin-key-0123456789abcdef" },
        rateLimit: { store: "redis", default: { rpm: 100 } },
        budgets: { store: "redis" },
        prices: { mock: { input: 1, output: 1 } },
      },
      {},
    ),
  )

/** Connections named after this test, by name. */
const connections = async () => {
  const list = (await probe.client("LIST")) as string
  const names = list
    .split("\n")
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1])
    .filter((n): n is string => n?.startsWith(name) === true)
  return {
    command: names.filter((n) => n === name).length,
    subscriber: names.filter((n) => n === `${name}:sub`).length,
  }
}

describe("Redis for keys, limits and budgets", () => {
  it("opens one command connection and one subscriber, and keeps them across a reload", async () => {
    await probe.connect()
    const reloader = await Effect.runPromise(
      Reloader.make(configWith(["a"]), (c, memoMap) => Assemble.build(c, { memoMap })).pipe(
        Effect.provide(Layer.extendScope(NodeHttpClient.layerUndici)),
        Scope.extend(scope),
      ),
    )
    expect(reloader.current().middleware).toEqual(expect.arrayContaining(["auth", "ratelimit", "budgets"]))
    expect(await connections()).toEqual({ command: 1, subscriber: 1 })
    const reloaded = await Effect.runPromise(reloader.reload(configWith(["a", "b"])))
    expect(Either.isRight(reloaded)).toBe(true)
    expect(await connections()).toEqual({ command: 1, subscriber: 1 })
  })
})
