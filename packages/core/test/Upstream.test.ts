/**
 * The shared upstream transport keeps a keep-alive pool per origin, and at most 64 of them: the
 * least recently used pool is closed when a new origin needs one (redirects can name any origin).
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Exit, Scope, Stream, Tracer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Transducer } from "../src/Chunked.ts"
import { Upstream } from "../src/index.ts"

const servers: Array<{ server: Http.Server; url: string; open: () => number }> = []

beforeAll(async () => {
  for (let i = 0; i < 66; i++) {
    let open = 0
    const server = Http.createServer((_req, res) => res.end(`server ${i}`))
    server.keepAliveTimeout = 60_000
    server.on("connection", (socket) => {
      open++
      socket.on("close", () => open--)
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    servers.push({
      server,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      open: () => open,
    })
  }
})

afterAll(async () => {
  for (const s of servers) s.server.closeAllConnections()
  await Promise.all(servers.map((s) => new Promise((r) => s.server.close(r))))
})

describe("Upstream pools", () => {
  it("close the least recently used origin's connections past 64 origins, and reopen on demand", async () => {
    const scope = Effect.runSync(Scope.make())
    // A long keep-alive: only the eviction can close a connection within this test.
    const client = await Effect.runPromise(Upstream.make({ keepAliveTimeout: 60_000 }).pipe(Scope.extend(scope)))
    const get = (url: string) =>
      Effect.runPromise(Effect.flatMap(client.pipe(HttpClient.filterStatusOk).get(url), (r) => r.text))
    try {
      for (const [i, s] of servers.slice(0, 64).entries()) expect(await get(s.url)).toBe(`server ${i}`)
      // Server 1 is used again, so server 0 is now the least recently used.
      await get(servers[1]!.url)
      expect(servers[0]!.open()).toBe(1)
      await get(servers[64]!.url)
      const deadline = Date.now() + 2_000
      while (servers[0]!.open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      expect(servers[0]!.open()).toBe(0) // evicted: its keep-alive connection closed
      expect(servers[1]!.open()).toBe(1) // recently used: kept
      expect(await get(servers[0]!.url)).toBe("server 0") // a new pool for it
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

describe("Upstream with a tracer installed (the platform's traced client)", () => {
  it("keeps a streamed body open when the response object is garbage-collected mid-stream", async () => {
    // The platform aborts a response's request once its wrapper object is collected; the body
    // is read from undici directly, so a GC between two events must not cut the stream.
    V8.setFlagsFromString("--expose-gc")
    const gc = Vm.runInNewContext("gc") as () => void
    const server = Http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      let n = 0
      const timer = setInterval(() => {
        n++
        if (n === 5) {
          clearInterval(timer)
          res.end("data: [DONE]\n\n")
        } else res.write(`data: ${n}\n\n`)
      }, 60)
      res.on("close", () => clearInterval(timer))
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const scope = Effect.runSync(Scope.make())
    try {
      const client = await Effect.runPromise(Upstream.make().pipe(Scope.extend(scope)))
      const endpoint = Upstream.endpoint(client, {
        provider: "p",
        baseUrl: url,
        failure: (status) => Upstream.upstreamError("p", `status ${status}`),
        unreachable: () => Upstream.upstreamError("p", "unreachable"),
        malformed: (what) => Upstream.upstreamError("p", `malformed ${what}`),
      })
      // Any tracer but Effect's default one puts the call through the platform's traced client.
      const native = Effect.runSync(Effect.tracer)
      const tracer = Tracer.make({ span: native.span, context: native.context })
      const collectAll: Transducer<Uint8Array, string, never> = {
        push: (input, out) => {
          for (const b of input) out.push(Buffer.from(b).toString("utf8"))
          return undefined
        },
        end: () => undefined,
      }
      const program = Effect.flatMap(endpoint.execute(HttpClientRequest.get("")), (response) =>
        Stream.runFold(
          Stream.tap(
            endpoint.transduce(
              response,
              () => collectAll,
              () => Upstream.upstreamError("p", "broke off"),
            ),
            // Between events: collect everything unreachable, then let finalizers run.
            () =>
              Effect.promise(async () => {
                gc()
                await new Promise((r) => setTimeout(r, 10))
              }),
          ),
          "",
          (all, s) => all + s,
        ),
      )
      const text = await Effect.runPromise(Effect.withTracer(program, tracer))
      expect(text).toBe("data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: [DONE]\n\n")
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
