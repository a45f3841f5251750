/**
 * Two real gateway processes (`sluice start`) on one Redis: a key's rate limit is shared —
 * together they admit exactly the limit — and a key created through one instance's admin API
 * works on the other, until it is revoked there: the other refuses it within a second.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Redis } from "ioredis"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = Path.resolve(import.meta.dirname, "..")
const prefix = `sluice-test:${randomUUID()}:`
const adminKey = "admin-fleet-0123456789abcdef"
const limitedKey = "sk-test-fleet-limited-0123456789"
const limit = 12

interface Instance {
  readonly url: string
  readonly child: ChildProcess
}

/** Every process started, so afterAll stops them even when another failed to start. */
const children: Array<ChildProcess> = []

const startInstance = (configFile: string): Promise<Instance> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["apps/gateway/bin/sluice.mjs", "start", "--config", configFile, "--port", "0"],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NODE_ENV: "test" },
      },
    )
    children.push(child)
    let out = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`gateway did not start:\n${out}`))
    }, 90_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const m = /sluice listening on (http:\/\/[\d.]+:\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ url: m[1]!, child })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`gateway exited with ${code}:\n${out}`))
    })
  })

let dir: string
let a: Instance
let b: Instance

beforeAll(async () => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-fleet-"))
  const config = Path.join(dir, "sluice.yaml")
  Fs.writeFileSync(
    config,
    [
      "providers:",
      "  mock: { type: mock }",
      "models:",
      "  mock: { provider: mock, model: mock }",
      "redis:",
      "  url: redis://127.0.0.1:6379",
      `  prefix: "${prefix}"`,
      "auth:",
      "  store: redis",
      // Generous bounds: this test is about sharing, and a loaded CI box must not turn it into a timeout test.
      "  timeout: 3s",
      "admin:",
      `  key: ${adminKey}`,
      "rateLimit:",
      "  store: redis",
      "  timeout: 3s",
      "keys:",
      "  - name: limited",
      `    key: ${limitedKey}`,
      `    rateLimit: { rpm: ${limit} }`,
      "",
    ].join("\n"),
  )
  ;[a, b] = await Promise.all([startInstance(config), startInstance(config)])
}, 120_000)

afterAll(async () => {
  for (const c of children) c.kill("SIGTERM")
  const cleaner = new Redis("redis://127.0.0.1:6379")
  const keys = await cleaner.keys(`${prefix}*`)
  if (keys.length > 0) await cleaner.del(...keys)
  cleaner.disconnect()
  if (dir) Fs.rmSync(dir, { recursive: true, force: true })
})

const client = (url: string, apiKey: string) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 })

describe("two gateway processes on one Redis", () => {
  it(`admit exactly ${limit} of 40 concurrent requests for a key limited to ${limit}/min`, async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        client(i % 2 === 0 ? a.url : b.url, limitedKey).chat.completions.create({
          model: "mock",
          messages: [{ role: "user", content: `hi ${i}` }],
        }),
      ),
    )
    const ok = results.filter((r) => r.status === "fulfilled")
    const limited = results.filter((r) => r.status === "rejected" && r.reason instanceof OpenAI.RateLimitError)
    const other = results.filter((r) => r.status === "rejected" && !(r.reason instanceof OpenAI.RateLimitError))
    expect(other.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([])
    expect(ok).toHaveLength(limit)
    expect(limited).toHaveLength(40 - limit)
  })

  it("a key made on one instance works on the other; revoked on the first, the other refuses it within a second", async () => {
    const admin = (url: string, method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    const created = await (await admin(a.url, "POST", "/admin/keys", { name: "fleet-key" })).json()
    expect(created.key).toMatch(/^sk-sluice-/)
    const onB = client(b.url, created.key)
    const ask = () => onB.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "hi" }] })
    expect((await ask()).choices[0]!.message.content).toBe("echo: hi")
    // Listed by the other instance too.
    const listed = await (await admin(b.url, "GET", "/admin/keys")).json()
    expect(listed.keys.some((k: { id: string }) => k.id === created.id)).toBe(true)

    expect((await admin(a.url, "POST", `/admin/keys/${created.id}/revoke`)).status).toBe(200)
    // Poll past the deadline so a miss reports how late it was, not just "not yet".
    const t0 = Date.now()
    let refused: unknown
    let attempts = 0
    while (Date.now() - t0 < 5_000 && refused === undefined) {
      attempts++
      refused = await ask().then(
        () => undefined,
        (e: unknown) => e,
      )
    }
    const took = Date.now() - t0
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(took, `refused after ${took} ms and ${attempts} attempts`).toBeLessThan(1_000)
  })
})
