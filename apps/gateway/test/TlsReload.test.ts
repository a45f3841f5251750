/**
 * `server.tls` is reloaded with the config: a running `sluice start` serving HTTPS picks up a
 * renewed certificate on SIGHUP (new connections get it), and keeps the previous one when the
 * new files do not load.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as Tls from "node:tls"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 })

const bin = new URL("../bin/sluice.mjs", import.meta.url).pathname
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-tls-reload-"))
const file = Path.join(dir, "sluice.yaml")
const certFile = Path.join(dir, "cert.pem")
const keyFile = Path.join(dir, "key.pem")

/** A fresh self-signed certificate for 127.0.0.1 with this common name. */
const makeCert = (cn: string) =>
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  )

let child: ChildProcess
let port = 0
let stdout = ""
let stderr = ""

/** The common name of the certificate a new connection is served. */
const servedName = () =>
  new Promise<string>((resolve, reject) => {
    const req = Https.get(
      { host: "127.0.0.1", port, path: "/healthz", rejectUnauthorized: false, agent: false },
      (res) => {
        const cert = (res.socket as Tls.TLSSocket).getPeerCertificate()
        res.resume()
        res.on("end", () => resolve(String(cert.subject.CN)))
      },
    )
    req.on("error", reject)
  })

const eventually = async (check: () => Promise<boolean> | boolean) => {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return false
}

beforeAll(async () => {
  makeCert("first.sluice.test")
  Fs.writeFileSync(
    file,
    `server: { tls: { cert: ${JSON.stringify(certFile)}, key: ${JSON.stringify(keyFile)} } }\nproviders: { mock: { type: mock } }\n`,
  )
  child = spawn(process.execPath, [bin, "start", "--config", file, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  })
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString()
  })
  port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString()
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)
      if (m) resolve(Number(m[1]))
    })
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${stdout}${stderr}`)))
  })
})

afterAll(() => {
  child?.kill("SIGKILL")
  Fs.rmSync(dir, { recursive: true, force: true })
})

describe("server.tls on reload", () => {
  it("serves a renewed certificate after SIGHUP", async () => {
    expect(await servedName()).toBe("first.sluice.test")
    makeCert("second.sluice.test")
    child.kill("SIGHUP")
    expect(await eventually(() => stdout.includes("certificate reloaded"))).toBe(true)
    expect(await servedName()).toBe("second.sluice.test")
  })

  it("keeps the previous certificate when the new files do not load", async () => {
    Fs.writeFileSync(keyFile, "not a key")
    child.kill("SIGHUP")
    expect(await eventually(() => stderr.includes("keeping the previous certificate"))).toBe(true)
    expect(await servedName()).toBe("second.sluice.test")
    expect(child.exitCode).toBeNull()
  })
})
