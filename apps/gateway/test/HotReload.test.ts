/**
 * Hot reload as an operator sees it: a running `sluice start --config FILE` picks up an edited
 * file (and SIGHUP), rejects an invalid edit with the path-naming error while it keeps serving
 * the previous config.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 })

const bin = new URL("../bin/sluice.mjs", import.meta.url).pathname
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-reload-"))
const file = Path.join(dir, "sluice.yaml")
const configWith = (models: Array<string>) =>
  `providers: { mock: { type: mock } }\nmodels:\n${models.map((m) => `  ${m}: { provider: mock, model: mock }`).join("\n")}\n`

let child: ChildProcess
let url = ""
let stderr = ""

const modelIds = async (): Promise<Array<string>> => {
  const body = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> }
  return body.data.map((m) => m.id).sort()
}

/** Poll until `check` holds (the reload is asynchronous); bounded. */
const eventually = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return false
}

beforeAll(async () => {
  Fs.writeFileSync(file, configWith(["alpha"]))
  child = spawn(process.execPath, [bin, "start", "--config", file, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  })
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
  url = await new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}${stderr}`)))
  })
})

afterAll(() => {
  child?.kill("SIGKILL")
})

describe("sluice start --config FILE", () => {
  it("serves the file's models", async () => {
    expect(await modelIds()).toEqual(["alpha"])
  })

  it("reloads when the file changes", async () => {
    Fs.writeFileSync(file, configWith(["alpha", "beta"]))
    expect(await eventually(async () => (await modelIds()).includes("beta"))).toBe(true)
  })

  it("rejects an invalid edit, naming the key, and keeps serving the old config", async () => {
    Fs.writeFileSync(file, 'providers: { mock: { type: mock, baseUrl: "not a url" } }\n')
    expect(await eventually(async () => stderr.includes("providers.mock.baseUrl: expected a URL"))).toBe(true)
    expect(stderr).toContain("still serving the previous config")
    expect(await modelIds()).toEqual(["alpha", "beta"])
  })

  it("reloads on SIGHUP instead of dying of it (Node's default for SIGHUP)", async () => {
    Fs.writeFileSync(file, configWith(["gamma"]))
    child.kill("SIGHUP")
    expect(await eventually(async () => (await modelIds()).includes("gamma"))).toBe(true)
    expect(child.exitCode).toBeNull()
  })
})
