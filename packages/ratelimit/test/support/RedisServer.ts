/**
 * A private redis-server child process on a free loopback port, for tests that stop, pause or
 * restart Redis (never the shared one at 6379, which other test files use).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { Redis } from "ioredis"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const address = s.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      s.close(() => resolve(port))
    })
  })

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Stop the server (SIGKILL) and wait for it to exit. */
  readonly stop: () => Promise<void>
  /** Start it again on the same port. */
  readonly start: () => Promise<void>
  /** Freeze / unfreeze the process: connections stay open but nothing answers. */
  readonly pause: () => void
  readonly resume: () => void
}

const waitUntilUp = async (port: number) => {
  const deadline = Date.now() + 5_000
  while (Date.now() < deadline) {
    const probe = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    probe.on("error", () => {})
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      return
    } catch {
      probe.disconnect()
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`redis-server on port ${port} did not start`)
}

export const start = async (): Promise<RedisServer> => {
  const port = await freePort()
  let child: ChildProcess | undefined
  const launch = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    })
    await waitUntilUp(port)
  }
  await launch()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      const c = child
      if (c === undefined || c.exitCode !== null) return
      const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()))
      c.kill("SIGKILL")
      await exited
    },
    start: launch,
    pause: () => {
      child?.kill("SIGSTOP")
    },
    resume: () => {
      child?.kill("SIGCONT")
    },
  }
}
