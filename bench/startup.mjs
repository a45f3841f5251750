// Start-up cost of the compiled `sluice` (run `npm run build` first): wall and CPU time of
// `sluice --help`, and the resident memory of an idle `sluice start` on the default config
// (the mock model; provider keys are taken out of the environment so the config is the same
// everywhere), read from /proc/<pid>/status once /healthz answers and again after one chat.
// Prints a table and writes bench/results/startup.md. Wall time depends on what else the
// machine is doing: the load average is printed with it.
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { rssOf } from "./lib.mjs"

const root = Path.resolve(import.meta.dirname, "..")
const bin = Path.join(root, "apps/gateway/bin/sluice.mjs")
const runs = Number(process.env.BENCH_RUNS ?? 7)

if (!Fs.existsSync(Path.join(root, "apps/gateway/dist/cli/sluice.mjs"))) {
  console.error("bench/startup: build first (npm run build)")
  process.exit(1)
}

const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => k !== "SLUICE_FROM_SOURCE" && k !== "NODE_OPTIONS" && !/_API_KEY$/.test(k),
  ),
)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const haveTime = Fs.existsSync("/usr/bin/time")

// ---- sluice --help -------------------------------------------------------------------------
const help = []
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint()
  const r = haveTime
    ? spawnSync("/usr/bin/time", ["-f", "%U %S", process.execPath, bin, "--help"], { env, encoding: "utf8" })
    : spawnSync(process.execPath, [bin, "--help"], { env, encoding: "utf8" })
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0 || !r.stdout.includes("start")) throw new Error(`sluice --help failed:\n${r.stderr}`)
  const cpu = haveTime
    ? r.stderr
        .trim()
        .split("\n")
        .pop()
        .split(" ")
        .reduce((a, s) => a + Number(s) * 1000, 0)
    : Number.NaN
  help.push({ wall, cpu })
}

// ---- idle sluice start ---------------------------------------------------------------------
const idle = async () => {
  const child = spawn(process.execPath, [bin, "start", "--host", "127.0.0.1", "--port", "0"], {
    cwd: Os.tmpdir(),
    env,
    stdio: ["ignore", "pipe", "pipe"],
  })
  let out = ""
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice start did not start:\n${out}`)), 60_000)
    const onData = (d) => {
      out += d
      const m = /sluice listening on (http:\/\/[\d.]+:\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => reject(new Error(`sluice start exited (${code}):\n${out}`)))
  })
  const health = await fetch(`${url}/healthz`)
  if (!health.ok) throw new Error(`/healthz answered ${health.status}`)
  await new Promise((r) => setTimeout(r, 1000))
  const atHealth = rssOf(child.pid)
  const chat = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hello" }] }),
  })
  const answer = (await chat.json()).choices?.[0]?.message?.content
  if (answer !== "echo: hello") throw new Error(`chat answered ${JSON.stringify(answer)}`)
  await new Promise((r) => setTimeout(r, 1000))
  const afterChat = rssOf(child.pid)
  const exited = new Promise((r) => child.once("exit", r))
  child.kill("SIGTERM")
  await exited
  return { atHealth, afterChat }
}
const idles = []
for (let i = 0; i < 3; i++) idles.push(await idle())

const mb = (b) => (b / 1024 / 1024).toFixed(0)
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : "—")
const load = Os.loadavg()
  .map((l) => l.toFixed(1))
  .join(" ")
const lines = [
  `# sluice start-up (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${Os.cpus().length} CPUs, load average ${load})`,
  "",
  "| measurement | median | min | max |",
  "|---|---|---|---|",
  `| \`sluice --help\` wall (${runs} runs) | ${ms(median(help.map((h) => h.wall)))} | ${ms(Math.min(...help.map((h) => h.wall)))} | ${ms(Math.max(...help.map((h) => h.wall)))} |`,
  `| \`sluice --help\` CPU (user + sys) | ${ms(median(help.map((h) => h.cpu)))} | ${ms(Math.min(...help.map((h) => h.cpu)))} | ${ms(Math.max(...help.map((h) => h.cpu)))} |`,
  `| idle \`sluice start\` RSS once /healthz answers (3 runs) | ${mb(median(idles.map((i) => i.atHealth)))} MB | ${mb(Math.min(...idles.map((i) => i.atHealth)))} MB | ${mb(Math.max(...idles.map((i) => i.atHealth)))} MB |`,
  `| … after one chat with the mock model | ${mb(median(idles.map((i) => i.afterChat)))} MB | ${mb(Math.min(...idles.map((i) => i.afterChat)))} MB | ${mb(Math.max(...idles.map((i) => i.afterChat)))} MB |`,
  "",
]
console.log(lines.join("\n"))
Fs.mkdirSync(Path.join(root, "bench/results"), { recursive: true })
Fs.writeFileSync(Path.join(root, "bench/results/startup.md"), lines.join("\n"))
