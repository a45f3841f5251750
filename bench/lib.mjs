/**
 * Helpers for the benchmark and soak scripts: free loopback ports, child processes that say when
 * they are ready, RSS of a process, percentiles, and a small HTTP client that measures time to
 * first byte. Everything talks to 127.0.0.1 only.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

export const root = Path.resolve(Path.dirname(new URL(import.meta.url).pathname), "..")

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = Net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

/**
 * Start `node args…` and resolve once a stdout/stderr line matches `ready` (bounded by
 * `timeoutMs`). Output is kept in a log file for post-mortems.
 */
export const startProcess = (name, args, { ready, env = {}, timeoutMs = 60_000, cwd = root } = {}) =>
  new Promise((resolve, reject) => {
    const logFile = Path.join(Os.tmpdir(), `sluice-bench-${name}-${process.pid}.log`)
    const log = Fs.createWriteStream(logFile)
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    let seen = ""
    let done = false
    const timer = setTimeout(
      () => finish(new Error(`${name} did not become ready in ${timeoutMs} ms (log: ${logFile})`)),
      timeoutMs,
    )
    const finish = (error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (error) {
        child.kill("SIGKILL")
        reject(error)
        return
      }
      resolve({
        name,
        child,
        pid: child.pid,
        logFile,
        stop: (signal = "SIGTERM") =>
          new Promise((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode)
            const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
            child.once("exit", (code) => {
              clearTimeout(kill)
              res(code)
            })
            child.kill(signal)
          }),
      })
    }
    const onData = (d) => {
      log.write(d)
      if (done) return
      seen = (seen + d.toString("utf8")).slice(-4096)
      if (ready.test(seen)) finish()
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code, signal) =>
      finish(new Error(`${name} exited (${code ?? signal}) before ready; log: ${logFile}`)),
    )
  })

/** Resident set size of a process in bytes (Linux /proc). */
export const rssOf = (pid) => {
  try {
    const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status)
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

export const percentile = (sorted, p) => {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export const round = (x, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null)

/**
 * One request; resolves with status, time to first body byte and total time (ms), and the body.
 * `onFirstByte` lets a caller hold many streams open and know when each started.
 */
export const timedRequest = (
  url,
  { method = "POST", headers = {}, body, agent, onFirstByte, timeoutMs = 30_000 } = {},
) =>
  new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const ms = () => Number(process.hrtime.bigint() - started) / 1e6
    const u = new URL(url)
    let ttfb
    const parts = []
    const req = Http.request(
      { host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers, agent },
      (res) => {
        res.on("data", (c) => {
          if (ttfb === undefined) {
            ttfb = ms()
            onFirstByte?.()
          }
          parts.push(c)
        })
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            ttfb: ttfb ?? ms(),
            total: ms(),
            body: Buffer.concat(parts).toString("utf8"),
          }),
        )
        res.on("error", (e) => resolve({ status: res.statusCode, error: e.code ?? e.message, total: ms() }))
      },
    )
    req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")))
    req.on("error", (e) => resolve({ status: 0, error: e.code ?? e.message, total: ms() }))
    req.end(body)
  })

/** Poll `check` until it resolves true, at most `timeoutMs`. */
export const waitFor = async (check, timeoutMs = 30_000, everyMs = 100) => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check().catch(() => false)) return true
    await sleep(everyMs)
  }
  return false
}
