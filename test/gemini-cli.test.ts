/**
 * Gemini CLI (@google/gemini-cli, pinned) in non-interactive mode against the running gateway,
 * routed to the built-in mock provider, and `sluice setup gemini-cli` that prepares it.
 *
 * Each run gets a throwaway HOME, so nothing touches a real ~/.gemini. Gemini CLI 0.61 needs
 * `security.auth.selectedType: "gemini-api-key"` in settings.json when GOOGLE_GEMINI_BASE_URL is
 * set (its implied `gateway` auth type is rejected as "Invalid auth method selected." in
 * non-interactive mode) and a trusted workspace (GEMINI_CLI_TRUST_WORKSPACE=true).
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as SetupGeminiCli from "../apps/gateway/src/SetupGeminiCli.ts"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const root = new URL("..", import.meta.url).pathname
const geminiBin = Path.join(root, "node_modules/@google/gemini-cli/bundle/gemini.js")
const sluiceBin = Path.join(root, "apps/gateway/bin/sluice.mjs")

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a node script to completion with exactly `env` (no inherited keys or settings). */
const runNode = (script: string, args: ReadonlyArray<string>, env: Record<string, string>, cwd: string) =>
  new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), 100_000)
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })

const tempDir = (name: string) => Fs.mkdtempSync(Path.join(Os.tmpdir(), `sluice-${name}-`))

const baseEnv = (home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: home,
  NO_COLOR: "1",
  GEMINI_CLI_TRUST_WORKSPACE: "true",
  SLUICE_FROM_SOURCE: process.env.SLUICE_FROM_SOURCE ?? "",
})

let gw: RunningGateway
beforeAll(async () => {
  gw = await startGateway({
    providers: { mock: { type: "mock" } },
    models: {
      "gemini-2.5-pro": { provider: "mock", model: "mock" },
      "gemini-2.5-flash": { provider: "mock", model: "mock" },
      "gemini-2.5-flash-lite": { provider: "mock", model: "mock" },
    },
  })
})
afterAll(() => gw?.close())

describe("Gemini CLI → Sluice → mock provider", () => {
  it("answers a prompt with GOOGLE_GEMINI_BASE_URL and GEMINI_API_KEY from the environment", async () => {
    const home = tempDir("gemini-home")
    Fs.mkdirSync(Path.join(home, ".gemini"))
    Fs.writeFileSync(
      Path.join(home, ".gemini/settings.json"),
      JSON.stringify(SetupGeminiCli.setupFor(gw.url, undefined).settings),
    )
    const r = await runNode(
      geminiBin,
      ["-p", "hello from gemini cli", "-m", "gemini-2.5-pro"],
      { ...baseEnv(home), GOOGLE_GEMINI_BASE_URL: gw.url, GEMINI_API_KEY: "anything" },
      tempDir("gemini-work"),
    )
    expect(r.stderr).not.toContain("Error")
    expect(r.status).toBe(0)
    // The mock echoes the last user turn: the CLI's context preamble, then the prompt.
    expect(r.stdout.trimStart()).toMatch(/^echo: /)
    expect(r.stdout.trimEnd()).toMatch(/hello from gemini cli$/)
  }, 120_000)

  it("runs a tool loop: the model's functionCall, the CLI's tool, the functionResponse back", async () => {
    const home = tempDir("gemini-home")
    SetupGeminiCli.write(home, gw.url, "anything")
    const work = tempDir("gemini-work")
    // The mock provider calls a tool the prompt names, with "mock" for each required string.
    Fs.mkdirSync(Path.join(work, "mock"))
    Fs.writeFileSync(Path.join(work, "mock", "found-me.txt"), "x")
    const r = await runNode(
      geminiBin,
      ["-p", "please use list_directory now", "-m", "gemini-2.5-pro", "-o", "json"],
      baseEnv(home),
      work,
    )
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as {
      response: string
      stats: { tools: { totalCalls: number; totalSuccess: number } }
    }
    expect(out.stats.tools).toMatchObject({ totalCalls: 1, totalSuccess: 1 })
    expect(out.response).toMatch(/^tool result: list_directory=/)
    expect(out.response).toContain("found-me.txt")
  }, 120_000)

  it("works with nothing but what `sluice setup gemini-cli --write` wrote", async () => {
    const home = tempDir("gemini-home")
    const setup = await runNode(sluiceBin, ["setup", "gemini-cli", "--url", gw.url, "--write"], baseEnv(home), root)
    expect(setup.status).toBe(0)
    expect(setup.stdout).toContain(Path.join(home, ".gemini/.env"))
    const r = await runNode(
      geminiBin,
      ["-p", "second prompt via dotenv", "-m", "gemini-2.5-flash"],
      baseEnv(home),
      tempDir("gemini-work"),
    )
    expect(r.status).toBe(0)
    expect(r.stdout.trimEnd()).toMatch(/^echo: [\s\S]*second prompt via dotenv$/)
  }, 120_000)
})

describe("sluice setup gemini-cli", () => {
  it("prints the variables and the settings a user needs", async () => {
    const home = tempDir("setup-home")
    const r = await runNode(sluiceBin, ["setup", "gemini-cli", "--url", "http://gw.example:8787/"], baseEnv(home), root)
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("export GOOGLE_GEMINI_BASE_URL=http://gw.example:8787\n")
    expect(r.stdout).toContain("export GEMINI_API_KEY=sluice")
    expect(r.stdout).toContain('"selectedType": "gemini-api-key"')
    expect(Fs.existsSync(Path.join(home, ".gemini"))).toBe(false)
  })

  it("--write merges into existing files, keeping the user's other settings and key", () => {
    const home = tempDir("setup-home")
    Fs.mkdirSync(Path.join(home, ".gemini"))
    Fs.writeFileSync(
      Path.join(home, ".gemini/settings.json"),
      JSON.stringify({
        ui: { theme: "Dracula" },
        security: { auth: { selectedType: "oauth-personal", useExternal: false } },
      }),
    )
    Fs.writeFileSync(
      Path.join(home, ".gemini/.env"),
      "# mine\nGEMINI_API_KEY=sk-virtual-1\nOTHER=1\nGOOGLE_GEMINI_BASE_URL=http://old\n",
    )
    SetupGeminiCli.write(home, "http://127.0.0.1:9000", undefined)
    expect(JSON.parse(Fs.readFileSync(Path.join(home, ".gemini/settings.json"), "utf8"))).toEqual({
      ui: { theme: "Dracula" },
      security: { auth: { selectedType: "gemini-api-key", useExternal: false } },
    })
    expect(Fs.readFileSync(Path.join(home, ".gemini/.env"), "utf8")).toBe(
      "# mine\nGEMINI_API_KEY=sk-virtual-1\nOTHER=1\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:9000\n",
    )
    SetupGeminiCli.write(home, "http://127.0.0.1:9000", "sk-virtual-2")
    expect(Fs.readFileSync(Path.join(home, ".gemini/.env"), "utf8")).toContain("GEMINI_API_KEY=sk-virtual-2\n")
  })

  it("refuses a URL that is not http(s), without a stack trace", async () => {
    const r = await runNode(
      sluiceBin,
      ["setup", "gemini-cli", "--url", "ftp://x"],
      baseEnv(tempDir("setup-home")),
      root,
    )
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain("--url must be an http(s) URL")
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/)
  })
})
