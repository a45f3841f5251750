/**
 * The shared upstream transport keeps a keep-alive pool per origin, and at most 64 of them: the
 * least recently used pool is closed when a new origin needs one (redirects can name any origin).
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { HttpClient } from "@effect/platform"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
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
