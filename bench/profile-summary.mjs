/**
 * Summarise a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package, and
 * inclusive time of the functions that matter. Usage: node bench/profile-summary.mjs FILE [N]
 */
import * as Fs from "node:fs"

const file = process.argv[2]
const top = Number(process.argv[3] ?? 40)
const profile = JSON.parse(Fs.readFileSync(file, "utf8"))
const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

// Self samples per node, weighted by the time deltas.
const self = new Map()
let total = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  self.set(id, (self.get(id) ?? 0) + dt)
  total += dt
})

const short = (url) =>
  url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\//, "")
    .replace(/.*\/work\/main\//, "")
const key = (n) =>
  `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
const pkg = (n) => {
  const u = n.callFrame.url
  if (u === "") return n.callFrame.functionName.startsWith("(") ? n.callFrame.functionName : "(native)"
  if (u.startsWith("node:")) return "node:internal"
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)
  if (m) return m[1]
  const p = /\/work\/main\/((?:packages|apps)\/[^/]+)/.exec(u)
  return p ? p[1] : short(u)
}

const bySelf = new Map()
const byPkg = new Map()
const inclusive = new Map()
for (const [id, t] of self) {
  const n = nodes.get(id)
  bySelf.set(key(n), (bySelf.get(key(n)) ?? 0) + t)
  byPkg.set(pkg(n), (byPkg.get(pkg(n)) ?? 0) + t)
  // Inclusive: count each distinct function once per stack.
  const seen = new Set()
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(nodes.get(cur))
    if (seen.has(k)) continue
    seen.add(k)
    inclusive.set(k, (inclusive.get(k) ?? 0) + t)
  }
}

const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`
const print = (title, map, n) => {
  process.stdout.write(`\n## ${title}\n`)
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${pct(t)}  ${k}\n`)
}
process.stdout.write(`total ${(total / 1e6).toFixed(2)} s sampled\n`)
print("self time by package", byPkg, 25)
print("self time by function", bySelf, top)
print("inclusive time (sluice code)", new Map([...inclusive].filter(([k]) => /packages\/|apps\//.test(k))), top)
