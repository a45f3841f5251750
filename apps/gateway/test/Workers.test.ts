/**
 * `sluice start --workers N`: N worker processes serve one port (node:cluster); SIGTERM to the
 * primary drains every worker and exits 0; a bad --workers value is refused before any fork.
 */
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it, vi } from "vitest"

vi.setConfig({ testTimeout: 120_000 })

const bin = new URL("../bin/sluice.mjs", import.meta.url).pathname
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-workers-"))
const file = Path.join(dir, "sluice.yaml")
Fs.writeFileSync(file, "providers: { mock: { type: mock } }\nmodels:\n  alpha: { provider: mock, model: mock }\n")

describe("sluice start --workers", () => {
  it("two workers share the port; SIGTERM stops both and the primary exits 0", async () => {
    const child = spawn(process.execPath, [bin, "start", "--config", file, "--port", "0", "--workers", "2"], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    let out = ""
    let err = ""
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString()
          const lines = [...out.matchAll(/listening on (http:\/\/\S+)/g)]
          if (lines.length >= 2) resolve(lines[0]![1]!)
        })
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}${err}`)))
      })
      expect(out).toContain(`2 workers (primary ${child.pid})`)
      // Both workers got the same port.
      const urls = new Set([...out.matchAll(/listening on (http:\/\/\S+)/g)].map((m) => m[1]))
      expect(urls.size).toBe(1)
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "alpha", messages: [{ role: "user", content: "hi" }] }),
        })
        expect(res.status).toBe(200)
        expect(((await res.json()) as { object: string }).object).toBe("chat.completion")
      }
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
    } finally {
      child.kill("SIGKILL")
    }
  })

  it("refuses a worker count out of range before starting anything", () => {
    const r = spawnSync(process.execPath, [bin, "start", "--config", file, "--port", "0", "--workers", "0"], {
      encoding: "utf8",
      timeout: 60_000,
    })
    expect(r.status).not.toBe(0)
    expect(`${r.stdout}${r.stderr}`).toContain("--workers must be between 1 and 256")
  })
})
