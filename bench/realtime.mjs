/**
 * Realtime sessions: RSS of a `sluice start` holding N idle Gemini Live sessions relayed to a
 * minimal Live upstream (setup done, nothing said), and how long a close takes to reach the
 * other side (client → upstream, upstream → client). Writes bench/results/realtime.md and a
 * JSON next to it. `BENCH_SESSIONS` sets N (default 200).
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { WebSocket, WebSocketServer } from "ws"
import { freePort, percentile, root, round, rssOf, sleep, startProcess, waitFor } from "./lib.mjs"

const sessions = Number(process.env.BENCH_SESSIONS ?? 200)
const livePath = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"

/** A Live upstream that completes `setup` and then stays quiet; it records when sockets close. */
const startUpstream = async () => {
  const port = await freePort()
  const wss = new WebSocketServer({ host: "127.0.0.1", port })
  const sockets = new Set()
  const closedAt = new Map()
  let opened = 0
  wss.on("connection", (ws, req) => {
    const id = new URL(req.url ?? "/", "http://x").searchParams.get("id") ?? `u${opened}`
    opened++
    sockets.add(ws)
    ws.on("message", (data) => {
      const m = JSON.parse(String(data))
      if (m.setup !== undefined) ws.send(Buffer.from(JSON.stringify({ setupComplete: {} })))
    })
    ws.on("close", () => {
      sockets.delete(ws)
      closedAt.set(id, performance.now())
    })
  })
  await new Promise((r) => wss.once("listening", r))
  const close = () =>
    new Promise((r) => {
      for (const ws of sockets) ws.terminate()
      wss.close(r)
    })
  return { port, sockets, closedAt, opened: () => opened, close }
}

const openSession = (port, key) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${livePath}?key=${key}`)
    const timer = setTimeout(() => reject(new Error("no setupComplete")), 30_000)
    ws.on("open", () => ws.send(JSON.stringify({ setup: { model: "models/live" } })))
    ws.on("message", (data) => {
      if (JSON.parse(String(data)).setupComplete !== undefined) {
        clearTimeout(timer)
        resolve(ws)
      }
    })
    ws.on("error", reject)
    ws.on("close", (code, reason) => reject(new Error(`closed ${code} ${reason}`)))
  })

const main = async () => {
  const upstream = await startUpstream()
  const key = "sk-bench-realtime-0123456789"
  const configFile = Path.join(Os.tmpdir(), `sluice-bench-realtime-${process.pid}.yaml`)
  Fs.writeFileSync(
    configFile,
    [
      "providers:",
      `  live: { type: gemini, baseUrl: "http://127.0.0.1:${upstream.port}", apiKey: up-key }`,
      "models:",
      "  live: { provider: live, model: gemini-live }",
      "keys:",
      `  - { name: bench, key: ${key} }`,
      "realtime: { recheckInterval: 60s }",
      "",
    ].join("\n"),
  )
  const port = await freePort()
  const sluice = await startProcess(
    "realtime",
    ["apps/gateway/bin/sluice.mjs", "start", "--config", configFile, "--port", String(port)],
    { ready: /sluice listening on/ },
  )
  try {
    // Warm the path once, then measure idle RSS.
    console.error(`realtime: gateway up on ${port}; opening a first session`)
    const warm = await openSession(port, key)
    warm.close()
    await waitFor(async () => upstream.sockets.size === 0, 10_000, 20)
    await sleep(500)
    const idleMB = rssOf(sluice.pid) / 2 ** 20
    console.error("realtime: idle RSS measured")

    const clients = []
    for (let i = 0; i < sessions; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, sessions - i) }, () => openSession(port, key)))
      clients.push(...batch)
      if (clients.length % 100 === 0) console.error(`realtime: ${clients.length} sessions open`)
    }
    await sleep(1_000)
    const heldMB = rssOf(sluice.pid) / 2 ** 20

    // Client closes → the upstream socket closes: time from close() to the upstream's close event.
    const clientToUpstream = []
    const probes = Math.min(50, Math.floor(clients.length / 2))
    for (const ws of clients.splice(0, probes)) {
      const before = upstream.sockets.size
      const t0 = performance.now()
      ws.close()
      await waitFor(async () => upstream.sockets.size < before, 10_000, 1)
      clientToUpstream.push(performance.now() - t0)
    }
    // Upstream closes → a client sees its close (which client is the gateway's pairing: wait for any).
    const upstreamToClient = []
    const remaining = clients.splice(0)
    let onClientClose = () => {}
    for (const ws of remaining) ws.once("close", () => onClientClose())
    for (let i = 0; i < probes; i++) {
      const up = [...upstream.sockets][0]
      const t0 = performance.now()
      const seen = new Promise((r) => {
        onClientClose = () => r(performance.now() - t0)
      })
      up.close(1000, "bye")
      upstreamToClient.push(await seen)
    }
    clients.push(...remaining)
    for (const ws of clients) if (ws.readyState === WebSocket.OPEN) ws.close()

    const sorted = (xs) => [...xs].sort((a, b) => a - b)
    const result = {
      at: new Date().toISOString(),
      cpus: Os.cpus().length,
      node: process.version,
      sessions,
      rssMB: {
        idle: round(idleMB, 1),
        withSessions: round(heldMB, 1),
        perSessionKB: round(((heldMB - idleMB) * 1024) / sessions, 1),
      },
      probes,
      closeMs: {
        clientToUpstream: {
          p50: round(percentile(sorted(clientToUpstream), 50)),
          max: round(Math.max(...clientToUpstream)),
        },
        upstreamToClient: {
          p50: round(percentile(sorted(upstreamToClient), 50)),
          max: round(Math.max(...upstreamToClient)),
        },
      },
    }
    const dir = Path.join(root, "bench/results")
    Fs.mkdirSync(dir, { recursive: true })
    Fs.writeFileSync(Path.join(dir, "realtime.json"), `${JSON.stringify(result, null, 2)}\n`)
    const md = [
      "# Realtime sessions",
      "",
      `${result.at} · ${result.cpus} CPUs · Node ${result.node}`,
      "",
      `\`sluice start\` (compiled) relaying Gemini Live sessions to a minimal Live upstream on loopback; each session has completed \`setup\` and is idle.`,
      "",
      "| measure | value |",
      "|---|---|",
      `| RSS idle, no sessions | ${result.rssMB.idle} MB |`,
      `| RSS with ${sessions} idle sessions | ${result.rssMB.withSessions} MB (${result.rssMB.perSessionKB} KB per session) |`,
      `| client closes → upstream closed (p50 / max of ${probes}) | ${result.closeMs.clientToUpstream.p50} / ${result.closeMs.clientToUpstream.max} ms |`,
      `| upstream closes → client closed (p50 / max of ${probes}) | ${result.closeMs.upstreamToClient.p50} / ${result.closeMs.upstreamToClient.max} ms |`,
      "",
    ].join("\n")
    Fs.writeFileSync(Path.join(dir, "realtime.md"), md)
    console.log(md)
  } finally {
    await sluice.stop()
    await upstream.close()
    Fs.rmSync(configFile, { force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
