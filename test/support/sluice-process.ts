/**
 * A real `sluice start` process on a free loopback port, from YAML text: resolves once it
 * prints its address; `stop` ends it (SIGTERM, then SIGKILL if it lingers).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "../..")

export interface SluiceProcess {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly child: ChildProcess
  /** Everything it printed so far. */
  readonly output: () => string
  readonly stop: () => Promise<void>
}

export const startSluice = (yaml: string, env: Record<string, string> = {}): Promise<SluiceProcess> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-proc-"))
  const config = Path.join(dir, "sluice.yaml")
  Fs.writeFileSync(config, yaml)
  const child = spawn(
    process.execPath,
    ["apps/gateway/bin/sluice.mjs", "start", "--config", config, "--port", "0", "--host", "127.0.0.1"],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_ENV: "test", ...env } },
  )
  let out = ""
  const exited = new Promise<void>((r) => child.once("exit", () => r()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000)
      await exited
      clearTimeout(t)
    }
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`sluice did not start:\n${out}`))
    }, 90_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const m = /sluice listening on (http:\/\/[\d.]+:\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ url: m[1]!, child, output: () => out, stop })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`sluice exited with ${code}:\n${out}`))
    })
  })
}
