/**
 * Hot reload: a valid change takes effect without dropping an in-flight stream; an invalid
 * change is rejected and the old config keeps serving.
 */
import type { HttpServer } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Either, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Config, Gateway, ProviderRegistry, Router } from "@sluice/core"
import { MockProvider } from "@sluice/core"
import { App, NodeServer } from "@sluice/server"
import { TestIngress } from "@sluice/testing"
import * as Reloader from "../src/Reloader.ts"

const configWith = (model: string) =>
  Either.getOrThrow(
    Config.fromObject({ providers: { mock: { type: "mock" } }, models: { m: { provider: "mock", model } } }, {}),
  )

/** A generation: the test ingress over the mock provider; it records when its scope closes. */
const closed: Array<string> = []
const build = (config: Config.GatewayConfig) =>
  Effect.gen(function* () {
    const registry = yield* ProviderRegistry.make(config, [MockProvider.providerType])
    const handler = Gateway.terminal({ router: Router.make(config), registry, resilience: config.resilience })
    const label = config.models.m?.model ?? "?"
    yield* Effect.addFinalizer(() => Effect.sync(() => closed.push(label)))
    return { app: App.make({ ingresses: [TestIngress.ingress], handler: () => handler, bodyLimit: 65536 }) }
  })

describe("Reloader", () => {
  let url: string
  let scope: Scope.CloseableScope
  let reloader: Reloader.Reloader<{ app: import("@effect/platform").HttpApp.Default }>

  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    const started = await Effect.runPromise(
      Effect.gen(function* () {
        const r = yield* Reloader.make(configWith("first"), build)
        const server = yield* NodeServer.make(r.app, { port: 0 })
        return { r, port: (server.address as HttpServer.TcpAddress).port }
      }).pipe(Effect.provide(NodeHttpClient.layerUndici), Scope.extend(scope)),
    )
    reloader = started.r
    url = `http://127.0.0.1:${started.port}/test/chat`
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  const ask = (text: string, stream = false) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", stream, messages: [{ role: "user", parts: [{ type: "text", text }] }] }),
    })

  it("swaps a valid config in without dropping an in-flight stream", async () => {
    expect((await ask("hi")).headers.get("x-sluice-target")).toBe("mock/first")
    // ~6 events, 100 ms apart: still streaming while the config changes.
    const inflight = await ask("delay:100 a b c", true)
    expect(inflight.headers.get("x-sluice-target")).toBe("mock/first")
    const result = await Effect.runPromise(reloader.reload(configWith("second")))
    expect(Either.isRight(result)).toBe(true)
    expect((await ask("hi")).headers.get("x-sluice-target")).toBe("mock/second")
    // The old generation is still open: its stream is still running.
    expect(closed).not.toContain("first")
    const text = await inflight.text()
    expect(text).toContain('"_tag":"finish"')
    expect(text).toContain("echo: delay:100 a b c".split(" ").at(-1))
    // ...and closes once its last request is done.
    for (let i = 0; i < 20 && !closed.includes("first"); i++) await new Promise((r) => setTimeout(r, 25))
    expect(closed).toContain("first")
  })

  it("rejects an invalid config and keeps serving the old one", async () => {
    const invalid = Either.getOrThrow(Config.fromObject({ providers: { x: { type: "no-such-type" } } }, {}))
    const result = await Effect.runPromise(reloader.reload(invalid))
    expect(Either.isLeft(result) && result.left.message).toBe(
      'providers.x.type: no provider package is registered for type "no-such-type"',
    )
    expect((await ask("hi")).headers.get("x-sluice-target")).toBe("mock/second")
  })
})
