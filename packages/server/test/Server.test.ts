import { type ChildProcess, spawn } from "node:child_process"
import * as Http from "node:http"
import type { HttpServer } from "@effect/platform"
import { Effect, Either, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Config, Gateway, type HandlerFn, MockProvider, ProviderRegistry, Router } from "@sluice/core"
import { App, FetchHandler, NodeServer } from "@sluice/server"
import { Stub, TestIngress } from "@sluice/testing"

const config = Either.getOrThrow(
  Config.fromObject(
    { providers: { mock: { type: "mock" } }, models: { mock: { provider: "mock", model: "mock" } } },
    {},
  ),
)
const mockHandler = Gateway.terminal({
  router: Router.make(config),
  registry: ProviderRegistry.fromProviders([MockProvider.makeProvider("mock")]),
  resilience: config.resilience,
})

const serve = async (handler: HandlerFn, bodyLimit = 64 * 1024) => {
  const app = App.make({ ingresses: [TestIngress.ingress], handler: () => handler, bodyLimit })
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(
    NodeServer.make(app, { port: 0, shutdownTimeout: 1000 }).pipe(Scope.extend(scope)),
  )
  const port = (server.address as HttpServer.TcpAddress).port
  return { app, url: `http://127.0.0.1:${port}`, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const chatBody = (text: string, stream = false) =>
  JSON.stringify(Stub.chatRequest({ stream, messages: [{ role: "user", parts: [{ type: "text", text }] }] }))

describe("the same pipeline through the Node server and the fetch handler", () => {
  let node: Awaited<ReturnType<typeof serve>>
  beforeAll(async () => {
    node = await serve(mockHandler)
  })
  afterAll(() => node.close())
  const fetchHandler = () =>
    FetchHandler.make(App.make({ ingresses: [TestIngress.ingress], handler: () => mockHandler, bodyLimit: 64 * 1024 }))

  it("answers a chat identically", async () => {
    const init = { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("hello there") }
    const viaNode = await fetch(`${node.url}/test/chat`, init)
    const viaFetch = await fetchHandler()(new Request("http://gateway.local/test/chat", init))
    for (const res of [viaNode, viaFetch]) {
      expect(res.status).toBe(200)
      expect(res.headers.get("x-sluice-target")).toBe("mock/mock")
      const body = await res.json()
      expect(body.parts).toEqual([{ type: "text", text: "echo: hello there" }])
    }
  })

  it("streams SSE through both", async () => {
    const init = {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody("one two three four five", true),
    }
    for (const res of [
      await fetch(`${node.url}/test/chat`, init),
      await fetchHandler()(new Request("http://g/test/chat", init)),
    ]) {
      expect(res.headers.get("content-type")).toContain("text/event-stream")
      const text = await res.text()
      const events = text
        .split("\n\n")
        .filter(Boolean)
        .map((f) => JSON.parse(f.slice("data: ".length)))
      expect(events[0]._tag).toBe("start")
      expect(events.at(-1)._tag).toBe("finish")
      expect(
        events
          .filter((e) => e._tag === "text_delta")
          .map((e) => e.text)
          .join(""),
      ).toBe("echo: one two three four five")
    }
  })

  it("serves /healthz on both", async () => {
    expect(await (await fetch(`${node.url}/healthz`)).json()).toEqual({ status: "ok" })
    expect(await (await fetchHandler()(new Request("http://g/healthz"))).json()).toEqual({ status: "ok" })
  })
})

describe("request limits and errors", () => {
  let node: Awaited<ReturnType<typeof serve>>
  beforeAll(async () => {
    node = await serve(mockHandler, 1024)
  })
  afterAll(() => node.close())

  it("refuses a body over the limit with 413 and a JSON error", async () => {
    const res = await fetch(`${node.url}/test/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody("x".repeat(5000)),
    })
    expect(res.status).toBe(413)
    expect((await res.json()).error.tag).toBe("PayloadTooLarge")
  })

  it("refuses an oversized chunked body (no content-length) with 413", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = Http.request(
        `${node.url}/test/chat`,
        { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on("error", reject)
      for (let i = 0; i < 10; i++) req.write("x".repeat(500))
      req.end()
    })
    expect(status).toBe(413)
  })

  it.each([
    ["malformed JSON", "{not json", "application/json"],
    ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), "application/json"],
    ["a form body", "a=1", "application/x-www-form-urlencoded"],
    ["an empty body", "", "application/json"],
  ])("answers %s with a 400 JSON error", async (_name, body, contentType) => {
    const res = await fetch(`${node.url}/test/chat`, { method: "POST", headers: { "content-type": contentType }, body })
    expect(res.status).toBe(400)
    expect((await res.json()).error.tag).toBe("InvalidRequest")
  })

  it("answers 405 for a known path with the wrong method", async () => {
    expect((await fetch(`${node.url}/test/chat`)).status).toBe(405)
  })

  it("keeps a client's x-request-id, or makes one", async () => {
    const init = {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "abc-123" },
      body: chatBody("hi"),
    }
    expect((await fetch(`${node.url}/test/chat`, init)).headers.get("x-request-id")).toBe("abc-123")
    const made = (
      await fetch(`${node.url}/test/chat`, { ...init, headers: { "content-type": "application/json" } })
    ).headers.get("x-request-id")
    expect(made).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe("client disconnect", () => {
  it("interrupts the handler: its finalizer runs", async () => {
    let finalized = false
    let started!: () => void
    const running = new Promise<void>((r) => (started = r))
    const handler: HandlerFn = () =>
      Effect.sync(() => started()).pipe(
        Effect.zipRight(Effect.never),
        Effect.ensuring(Effect.sync(() => (finalized = true))),
      )
    const node = await serve(handler)
    const controller = new AbortController()
    const pending = fetch(`${node.url}/test/chat`, {
      method: "POST",
      body: chatBody("hang"),
      headers: { "content-type": "application/json" },
      signal: controller.signal,
    }).catch(() => undefined)
    await running
    controller.abort()
    await pending
    for (let i = 0; i < 50 && !finalized; i++) await new Promise((r) => setTimeout(r, 10))
    expect(finalized).toBe(true)
    await node.close()
  })
})

describe("graceful shutdown (a real process, SIGTERM)", () => {
  let child: ChildProcess
  let port: number
  const exited = () => new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))

  beforeAll(async () => {
    child = spawn(
      process.execPath,
      ["--conditions=@sluice/source", "--import", "tsx", new URL("./fixtures/serve.ts", import.meta.url).pathname],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, SHUTDOWN_TIMEOUT: "5000" },
      },
    )
    port = await new Promise<number>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        const m = /listening (\d+)/.exec(d.toString())
        if (m) resolve(Number(m[1]))
      })
      child.once("exit", () => reject(new Error("fixture exited early")))
    })
  })
  afterAll(() => {
    if (child.exitCode === null) child.kill("SIGKILL")
  })

  it("drains an in-flight stream, refuses new connections, exits 0", async () => {
    const url = `http://127.0.0.1:${port}/test/chat`
    // "delay:150" makes the mock wait 150 ms before each of its ~6 events.
    const inflight = fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody("delay:150 a b c d", true),
    })
    const response = await inflight
    const code = exited()
    child.kill("SIGTERM")
    await new Promise((r) => setTimeout(r, 100))
    const refused = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => "answered",
      () => "refused",
    )
    const text = await response.text()
    expect(text).toContain('"_tag":"finish"')
    expect(refused).toBe("refused")
    expect(await code).toBe(0)
  })
})
