/**
 * Gemini CLI starts Sluice by itself: `sluice setup gemini-cli --local` writes the project's
 * .gemini/.env, .gemini/settings.json and a SessionStart hook; a real `gemini -p` session in that
 * project then reaches a Sluice that was not running before (the hook's `sluice context` started
 * it), and a second session finds it answering and starts nothing.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const root = Path.resolve(import.meta.dirname, "..")
const geminiBin = Path.join(root, "node_modules/@google/gemini-cli/bundle/gemini.js")
const sluiceBin = Path.join(root, "apps/gateway/bin/sluice.mjs")

const run = (script: string, args: ReadonlyArray<string>, env: Record<string, string>, cwd: string) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000)
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

const status = (url: string) =>
  fetch(`${url}/status`, { signal: AbortSignal.timeout(2_000) }).then(
    (r) => r.status,
    () => 0,
  )

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-autostart-"))
const pidFile = (port: number) => Path.join(tmp, `sluice-${port}.pid`)
let port = 0

afterAll(() => {
  // The hook's gateway outlives the CLI session by design; the test ends it.
  if (port !== 0 && Fs.existsSync(pidFile(port))) {
    try {
      process.kill(Number(Fs.readFileSync(pidFile(port), "utf8")), "SIGTERM")
    } catch {}
  }
  Fs.rmSync(tmp, { recursive: true, force: true })
})

describe("Gemini CLI with `sluice setup gemini-cli --local`", () => {
  it("starts Sluice from its SessionStart hook when nothing answers, and reuses it after", async () => {
    port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const home = Fs.mkdtempSync(Path.join(tmp, "home-"))
    const project = Fs.mkdtempSync(Path.join(tmp, "project-"))
    const config = Path.join(project, "sluice.yaml")
    Fs.writeFileSync(
      config,
      "providers: { mock: { type: mock } }\nmodels:\n  gemini-2.5-flash: { provider: mock, model: mock }\n  gemini-2.5-flash-lite: { provider: mock, model: mock }\n",
    )
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      TMPDIR: tmp,
      NO_COLOR: "1",
      GEMINI_CLI_TRUST_WORKSPACE: "true",
      // The bin runs sources in tests (no build needed); the hook's `sluice` inherits this.
      SLUICE_FROM_SOURCE: process.env.SLUICE_FROM_SOURCE ?? "",
    }

    const setup = await run(
      sluiceBin,
      ["setup", "gemini-cli", "--local", "--url", url, "--config", config],
      env,
      project,
    )
    expect(setup.status, setup.stderr).toBe(0)
    const settings = JSON.parse(Fs.readFileSync(Path.join(project, ".gemini/settings.json"), "utf8"))
    expect(settings.security.auth.selectedType).toBe("gemini-api-key")
    expect(settings.hooks.SessionStart[0].hooks[0]).toMatchObject({ name: "sluice-autostart", type: "command" })
    expect(Fs.readFileSync(Path.join(project, ".gemini/.env"), "utf8")).toContain(`GOOGLE_GEMINI_BASE_URL=${url}`)
    // Nothing of the user's home was touched.
    expect(Fs.existsSync(Path.join(home, ".gemini/settings.json"))).toBe(false)

    expect(await status(url)).toBe(0)
    const first = await run(geminiBin, ["-p", "hello from a fresh session", "-m", "gemini-2.5-flash"], env, project)
    expect(first.status, first.stderr).toBe(0)
    expect(first.stdout.trimEnd()).toMatch(/^echo: [\s\S]*hello from a fresh session$/)
    expect(await status(url)).toBe(200)
    const pid = Fs.readFileSync(pidFile(port), "utf8")

    // Running already: the hook starts nothing and says nothing.
    const context = await run(sluiceBin, ["context", "--url", url, "--config", config], env, project)
    expect(context.stdout.trim()).toBe("{}")
    const second = await run(geminiBin, ["-p", "second session", "-m", "gemini-2.5-flash"], env, project)
    expect(second.status, second.stderr).toBe(0)
    expect(second.stdout.trimEnd()).toMatch(/second session$/)
    expect(Fs.readFileSync(pidFile(port), "utf8")).toBe(pid)
  }, 300_000)

  it("a second setup replaces its own hook and keeps the user's other hooks", async () => {
    const project = Fs.mkdtempSync(Path.join(tmp, "project-"))
    Fs.mkdirSync(Path.join(project, ".gemini"))
    const mine = { matcher: "*", hooks: [{ name: "mine", type: "command", command: "true" }] }
    Fs.writeFileSync(Path.join(project, ".gemini/settings.json"), JSON.stringify({ hooks: { SessionStart: [mine] } }))
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: Fs.mkdtempSync(Path.join(tmp, "home-")),
      SLUICE_FROM_SOURCE: process.env.SLUICE_FROM_SOURCE ?? "",
    }
    for (let i = 0; i < 2; i++) {
      const r = await run(sluiceBin, ["setup", "gemini-cli", "--local", "--url", "http://127.0.0.1:9"], env, project)
      expect(r.status, r.stderr).toBe(0)
    }
    const settings = JSON.parse(Fs.readFileSync(Path.join(project, ".gemini/settings.json"), "utf8"))
    expect(settings.hooks.SessionStart).toHaveLength(2)
    expect(settings.hooks.SessionStart[0]).toEqual(mine)
    expect(settings.hooks.SessionStart[1].hooks[0].name).toBe("sluice-autostart")
  }, 120_000)
})
