#!/usr/bin/env node
// Runs deploy/Dockerfile's steps without a container daemon, as far as they can run outside one:
//
//   node deploy/check-dockerfile.mjs               every step: a clean copy of the committed tree
//                                                   (git archive HEAD, filtered by the
//                                                   .dockerignore), the build stage's RUN commands
//                                                   as written (npm ci, npm run build, …), then
//                                                   the runtime stage
//   node deploy/check-dockerfile.mjs --reuse-build  the same, but the install-and-build steps
//                                                   (`npm ci`, `npm run build`) take this
//                                                   checkout's build outputs instead (the test
//                                                   suite runs this after its own build)
//
// The runtime stage: its COPY --from lines are replayed into an empty directory (no node_modules
// comes along), every file must be readable by a non-root user, then ENTRYPOINT + CMD run with
// plain node (the CMD's --host/--port moved to 127.0.0.1 and a free port), /healthz must answer,
// the HEALTHCHECK command must pass, the mock model must answer a chat; then the same files run
// deploy/sluice.yaml (the compose and Kubernetes config) against the Redis on 127.0.0.1:6379: an
// admin-made virtual key calls the mock model, and SIGTERM ends the process with status 0.
// What it cannot show: the base image, USER switching, file ownership inside the image, the
// build cache — no `docker build` runs here.
import { execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const here = Path.dirname(new URL(import.meta.url).pathname)
const repo = Path.resolve(here, "..")
const args = new Set(process.argv.slice(2))
const reuseBuild = args.has("--reuse-build")
const keep = args.has("--keep")

const log = (msg) => console.log(`check-dockerfile: ${msg}`)
const fail = (msg) => {
  throw new Error(msg)
}

// Child processes see neither an outer npm's settings nor a test runner's.
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) =>
      k !== "SLUICE_FROM_SOURCE" &&
      k !== "NODE_OPTIONS" &&
      k !== "INIT_CWD" &&
      !k.startsWith("VITEST") &&
      (!k.toLowerCase().startsWith("npm_") ||
        ["npm_config_cache", "npm_config_registry", "npm_config_userconfig"].includes(k.toLowerCase())),
  ),
)

// ---- the Dockerfile -------------------------------------------------------------------------

/** Instructions with their arguments; continuation lines joined, comments dropped. */
export const parseDockerfile = (text) => {
  const out = []
  let pending = ""
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd()
    if (pending === "" && (line.trim() === "" || line.trimStart().startsWith("#"))) continue
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `
      continue
    }
    const full = (pending + line).trim()
    pending = ""
    const m = /^(\w+)\s+(.*)$/s.exec(full)
    if (m) out.push({ op: m[1].toUpperCase(), arg: m[2].trim() })
  }
  return out
}

/** `["a", "b"]` (exec form) or a shell string. */
const execForm = (arg) => {
  if (arg.startsWith("[")) return JSON.parse(arg)
  return ["sh", "-c", arg]
}

/** Stages in order, each with its instructions; ARG defaults substituted in FROM. */
export const stagesOf = (instructions) => {
  const argsBefore = {}
  const stages = []
  for (const i of instructions) {
    if (i.op === "ARG" && stages.length === 0) {
      const [k, v] = i.arg.split("=")
      argsBefore[k] = v
    } else if (i.op === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.arg)
      const image = m[1].replace(/\$\{(\w+)\}/g, (_, k) => argsBefore[k] ?? "")
      stages.push({ name: m[2] ?? String(stages.length), image, steps: [] })
    } else if (stages.length > 0) stages.at(-1).steps.push(i)
  }
  return stages
}

// ---- .dockerignore --------------------------------------------------------------------------

const globToRegExp = (pattern) => {
  let re = ""
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === "*" && pattern[i + 1] === "*") {
      re += pattern[i + 2] === "/" ? "(?:.*/)?" : ".*"
      i += pattern[i + 2] === "/" ? 2 : 1
    } else if (c === "*") re += "[^/]*"
    else if (c === "?") re += "[^/]"
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  }
  return new RegExp(`^${re}(?:/.*)?$`)
}

const ignoreFilter = (file) => {
  const patterns = Fs.readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => ({ negate: l.startsWith("!"), re: globToRegExp(l.replace(/^!/, "").replace(/^\//, "")) }))
  return (rel) => {
    let ignored = false
    for (const p of patterns) if (p.re.test(rel)) ignored = !p.negate
    return ignored
  }
}

// ---- running the stages ---------------------------------------------------------------------

/** A stage's "/" is a directory; container paths map into it. */
const inRoot = (root, workdir, p) => Path.join(root, p.startsWith("/") ? p : Path.join(workdir, p))

const sh = (argv, cwd, env) => {
  log(`RUN ${argv.join(" ")}  (in ${cwd})`)
  execFileSync(argv[0], argv.slice(1), { cwd, env, stdio: "inherit" })
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = Net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const start = (argv, cwd, env) => {
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  child.stdout.on("data", (c) => {
    out += c
  })
  child.stderr.on("data", (c) => {
    out += c
  })
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  return { child, exited, output: () => out }
}

const waitForHealth = async (url, proc) => {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) fail(`the gateway exited (${proc.child.exitCode}):\n${proc.output()}`)
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 200))
  }
  fail(`no answer from ${url}/healthz:\n${proc.output()}`)
}

const stop = async (proc) => {
  if (proc.child.exitCode === null) proc.child.kill("SIGTERM")
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), 20_000)
  const result = await proc.exited
  clearTimeout(timer)
  return result
}

const chat = async (url, key, text) => {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: text }] }),
  })
  const body = await res.json()
  if (res.status !== 200) fail(`chat answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`)
  const answer = body.choices?.[0]?.message?.content
  if (answer !== `echo: ${text}`) fail(`chat answered ${JSON.stringify(answer)}`)
}

/** Every file and directory must be readable (and directories searchable) by others. */
const checkReadable = (dir) => {
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = Path.join(entry.parentPath ?? entry.path, entry.name)
    const mode = Fs.statSync(p).mode
    if ((mode & 0o004) === 0 || (entry.isDirectory() && (mode & 0o001) === 0))
      fail(`${Path.relative(dir, p)} is not readable by a non-root user`)
  }
}

const main = async () => {
  const began = Date.now()
  const stages = stagesOf(parseDockerfile(Fs.readFileSync(Path.join(here, "Dockerfile"), "utf8")))
  if (stages.length < 2) fail("expected a multi-stage Dockerfile")
  const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-dockerfile-"))
  const roots = new Map()
  let final
  try {
    for (const [index, stage] of stages.entries()) {
      const root = Path.join(tmp, `stage-${index}`)
      Fs.mkdirSync(root, { recursive: true })
      roots.set(stage.name, { root, workdir: "/" })
      const state = roots.get(stage.name)
      const env = { ...baseEnv }
      log(`FROM ${stage.image} AS ${stage.name}`)
      for (const step of stage.steps) {
        const cwd = () => inRoot(root, "/", state.workdir)
        switch (step.op) {
          case "WORKDIR":
            state.workdir = Path.posix.resolve(state.workdir, step.arg)
            Fs.mkdirSync(cwd(), { recursive: true })
            break
          case "ENV":
            for (const m of step.arg.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, "")
            break
          case "COPY": {
            const from = /--from=(\S+)\s+/.exec(step.arg)
            const [src, dest] = step.arg.replace(/--\w+=\S+\s+/g, "").split(/\s+/)
            const target = inRoot(root, state.workdir, dest)
            if (from) {
              const other = roots.get(from[1]) ?? fail(`COPY --from=${from[1]}: no such stage`)
              const source = inRoot(other.root, other.workdir, src)
              log(`COPY --from=${from[1]} ${src} ${dest}`)
              Fs.cpSync(source, target, { recursive: true })
            } else {
              if (src !== ".") fail(`only COPY . is replayed (got COPY ${src})`)
              log("COPY . (git archive HEAD, without what the .dockerignore leaves out)")
              const ignored = ignoreFilter(Path.join(here, "Dockerfile.dockerignore"))
              const staging = Path.join(tmp, "archive")
              Fs.mkdirSync(staging)
              try {
                execFileSync("sh", ["-c", `git -C "${repo}" archive HEAD | tar -x -C "${staging}"`], {
                  stdio: ["ignore", "ignore", "pipe"],
                })
              } catch {
                // Not a git checkout (a source tarball): its files, as the .dockerignore filters them.
                log("no git history here: copying the working tree instead")
                Fs.cpSync(repo, staging, {
                  recursive: true,
                  filter: (p) => {
                    const rel = Path.relative(repo, p)
                    return rel === "" || !ignored(rel)
                  },
                })
              }
              Fs.cpSync(staging, target, {
                recursive: true,
                filter: (p) => {
                  const rel = Path.relative(staging, p)
                  return rel === "" || !ignored(rel)
                },
              })
              Fs.rmSync(staging, { recursive: true, force: true })
            }
            break
          }
          case "RUN": {
            const argv = execForm(step.arg)
            const command = argv.join(" ")
            if (reuseBuild && /^(sh -c )?npm (ci|run build)\b/.test(command)) {
              if (/npm ci/.test(command)) log(`RUN ${command}: skipped (--reuse-build)`)
              else {
                log(`RUN ${command}: this checkout's build outputs instead (--reuse-build)`)
                for (const dir of [
                  "apps/gateway/dist",
                  ...Fs.readdirSync(Path.join(repo, "packages")).map((p) => `packages/${p}/dist`),
                ]) {
                  const source = Path.join(repo, dir)
                  if (Fs.existsSync(source)) Fs.cpSync(source, Path.join(cwd(), dir), { recursive: true })
                }
                if (!Fs.existsSync(Path.join(cwd(), "apps/gateway/dist/cli/sluice.mjs")))
                  fail("--reuse-build: this checkout is not built (npm run build)")
              }
              break
            }
            sh(argv, cwd(), { ...env, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" })
            break
          }
          case "ENTRYPOINT":
            state.entrypoint = JSON.parse(step.arg)
            break
          case "CMD":
            state.cmd = JSON.parse(step.arg)
            break
          case "HEALTHCHECK":
            state.healthcheck = JSON.parse(step.arg.slice(step.arg.indexOf("CMD") + 3).trim())
            break
          case "USER":
            state.user = step.arg
            break
          default:
            break
        }
      }
      state.env = env
      final = state
    }
    log(`stages done in ${((Date.now() - began) / 1000).toFixed(1)} s`)

    // ---- the runtime stage ---------------------------------------------------------------
    if (final.user === undefined || final.user === "root" || final.user === "0") fail("the runtime stage runs as root")
    if (!final.entrypoint || !final.cmd || !final.healthcheck)
      fail("the runtime stage needs ENTRYPOINT, CMD and HEALTHCHECK")
    const app = inRoot(final.root, "/", final.workdir)
    if (Fs.existsSync(Path.join(app, "node_modules"))) fail("the runtime stage should not carry node_modules")
    checkReadable(app)
    log(`runtime files: ${execFileSync("du", ["-sh", app]).toString().split("\t")[0]}, all readable by a non-root user`)

    const node = (argv) => (argv[0] === "node" ? [process.execPath, ...argv.slice(1)] : argv)
    const retarget = (cmd, port) => {
      const out = [...cmd]
      const set = (flag, value) => {
        const at = out.indexOf(flag)
        if (at >= 0) out[at + 1] = value
        else out.push(flag, value)
      }
      set("--host", "127.0.0.1")
      set("--port", String(port))
      return out
    }
    const runtimeEnv = { ...baseEnv, ...final.env }

    // 1. The image's default command: the built-in config.
    {
      const port = await freePort()
      const url = `http://127.0.0.1:${port}`
      const proc = start(node([...final.entrypoint, ...retarget(final.cmd, port)]), app, runtimeEnv)
      try {
        await waitForHealth(url, proc)
        const check = node(final.healthcheck.map((a) => a.replaceAll("127.0.0.1:8787", `127.0.0.1:${port}`)))
        execFileSync(check[0], check.slice(1), { cwd: app, env: runtimeEnv, stdio: "inherit" })
        log("HEALTHCHECK passes")
        await chat(url, undefined, "hello container")
        log("default command: /healthz and the mock model answer")
      } finally {
        const { code, signal } = await stop(proc)
        if (code !== 0) fail(`default command ended with ${code ?? signal}:\n${proc.output()}`)
      }
    }

    // 2. The compose / Kubernetes config, mounted as a file, with Redis from the environment.
    {
      const port = await freePort()
      const url = `http://127.0.0.1:${port}`
      const admin = `sk-admin-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`
      const prefix = `sluice-check-${process.pid}-${Date.now().toString(36)}:`
      const configDir = Path.join(final.root, "etc/sluice")
      Fs.mkdirSync(configDir, { recursive: true })
      Fs.copyFileSync(Path.join(here, "sluice.yaml"), Path.join(configDir, "sluice.yaml"))
      const env = {
        ...runtimeEnv,
        SLUICE_ADMIN_KEY: admin,
        REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
        SLUICE_REDIS_PREFIX: prefix,
        // Nothing listens there: spans are dropped, the gateway keeps serving.
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      }
      const cmd = [
        "start",
        "--config",
        Path.join(configDir, "sluice.yaml"),
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
      ]
      const proc = start(node([...final.entrypoint, ...cmd]), app, env)
      try {
        await waitForHealth(url, proc)
        const made = await fetch(`${url}/admin/keys`, {
          method: "POST",
          headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "check", models: ["mock"] }),
        })
        const created = await made.json()
        if (made.status !== 201 && made.status !== 200)
          fail(`admin API answered ${made.status}: ${JSON.stringify(created)}`)
        const unauthorized = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: "no key" }] }),
        })
        if (unauthorized.status !== 401) fail(`a request without a key answered ${unauthorized.status}`)
        await chat(url, created.key, "hello deployment")
        log("deploy/sluice.yaml: admin key made, a request without a key refused, the virtual key's chat answered")
      } finally {
        const { code, signal } = await stop(proc)
        // Leave nothing behind in the shared Redis.
        const { default: Redis } = await import("ioredis")
        const redis = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
        try {
          await redis.connect()
          const keys = await redis.keys(`${prefix}*`)
          if (keys.length > 0) await redis.del(...keys)
        } finally {
          redis.disconnect()
        }
        if (code !== 0) fail(`deploy config ended with ${code ?? signal}:\n${proc.output()}`)
        log("SIGTERM: drained and exited 0")
      }
    }
    log(`ok in ${((Date.now() - began) / 1000).toFixed(1)} s`)
  } finally {
    if (keep) log(`kept ${tmp}`)
    else Fs.rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] && Path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  main().catch((e) => {
    console.error(`check-dockerfile: FAILED: ${e.message}`)
    process.exit(1)
  })
}
