/**
 * The `sluice` command as a user runs it: a real process from the package bin.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it, vi } from "vitest"

// Each case starts real processes (a cold TypeScript load each): generous under a loaded CI box.
vi.setConfig({ testTimeout: 120_000 })

const bin = new URL("../bin/sluice.mjs", import.meta.url).pathname
const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-cli-"))
const write = (name: string, text: string) => {
  const file = Path.join(tmp, name)
  Fs.writeFileSync(file, text)
  return file
}
/** Run the CLI to completion (asynchronously: a blocked test worker cannot report). */
const sluice = (...args: Array<string>) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: "1" } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

describe.concurrent("sluice validate", () => {
  it("accepts a good config", async () => {
    const r = await sluice(
      "validate",
      "--config",
      write("good.yaml", "providers: { fake: { type: mock } }\nmodels: { m: { provider: fake, model: x } }\n"),
    )
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain("ok (1 providers, 1 models, 0 routes)")
  })

  it("rejects a bad one naming the key's path, without a stack trace", async () => {
    const r = await sluice(
      "validate",
      "--config",
      write("bad.yaml", 'providers:\n  openai: { type: openai, apiKey: x, baseUrl: "nope" }\n'),
    )
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain("providers.openai.baseUrl: expected a URL")
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/)
  })

  it("names a missing environment variable", async () => {
    const r = await sluice(
      "validate",
      "--config",
      write("env.yaml", 'providers:\n  openai: { type: openai, apiKey: "${SLUICE_TEST_UNSET_KEY}" }\n'),
    )
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain("providers.openai.apiKey: environment variable SLUICE_TEST_UNSET_KEY is not set")
  })
})

describe.concurrent("sluice init and routes", () => {
  it("writes a starter config that validates, and refuses to overwrite it", async () => {
    const file = Path.join(tmp, "starter.yaml")
    const init = await sluice("init", "--path", file)
    expect(init.status, init.stderr).toBe(0)
    const validate = await sluice("validate", "--config", file)
    expect(validate.status, validate.stderr).toBe(0)
    const again = await sluice("init", "--path", file)
    expect(again.status).not.toBe(0)
    expect(again.stderr).toContain("exists")
  })

  it("prints where a model goes", async () => {
    const file = write(
      "routes.yaml",
      'providers: { a: { type: mock } }\nmodels: { big: { provider: a, model: large } }\nroutes:\n  - { match: "gemini-*", to: big, fallbacks: ["a/small"], retry: { attempts: 3 } }\n',
    )
    const r = await sluice("routes", "--config", file, "--model", "gemini-2.5-pro")
    expect(r.stdout).toContain('routes[0] (match "gemini-*")')
    expect(r.stdout).toContain("big -> a/large")
    expect(r.stdout).toContain("a/small -> a/small")
    expect(r.stdout).toContain("3 attempt(s)")
  })
})

describe("sluice start", () => {
  it("serves /healthz on the port given, then stops cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, [bin, "start", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] })
    const url = await new Promise<string>((resolve, reject) => {
      let out = ""
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString()
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m) resolve(m[1]!)
      })
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)))
    })
    const res = await fetch(`${url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: "ok" })
    const code = new Promise((resolve) => child.once("exit", resolve))
    child.kill("SIGTERM")
    expect(await code).toBe(0)
  })
})
