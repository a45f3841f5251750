/**
 * The benchmark's upstream: a minimal, fast OpenAI-format server on loopback. POST
 * /v1/chat/completions answers a fixed small chat completion, or with `"stream": true` a few SSE
 * chunks ending in `data: [DONE]`. Model `drip` streams slowly (one chunk every DRIP_MS for
 * DRIP_CHUNKS chunks) — the open-streams memory test. Models named `fault-*` misbehave, for the
 * soak: `fault-500`/`fault-503`/`fault-429` answer that status in OpenAI's error shape,
 * `fault-reset` resets the connection (mid-stream when streaming), `fault-hang` never answers,
 * `fault-malformed` sends a broken body or SSE event, `fault-slow` drips five chunks 100 ms apart.
 * A second port is a no-op OTLP collector (200 `{}` to every POST) so the gateway's span exporter
 * has somewhere cheap to send to.
 *
 * Usage: node bench/upstream.mjs <port> <sinkPort>
 */
import * as Http from "node:http"

const port = Number(process.argv[2] ?? 0)
const sinkPort = Number(process.argv[3] ?? 0)
const dripMs = Number(process.env.DRIP_MS ?? 1000)
const dripChunks = Number(process.env.DRIP_CHUNKS ?? 20)

const created = Math.floor(Date.now() / 1000)

const completion = (model) =>
  JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: "Hello! How can I help you today?", refusal: null },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 },
  })

const chunk = (model, delta, finish) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })}\n\n`

const usageChunk = (model) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created,
    model,
    choices: [],
    usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 },
  })}\n\n`

// Answers are the same every time: build them once per model name.
const cache = new Map()
const answersFor = (model) => {
  let a = cache.get(model)
  if (a === undefined) {
    const body = Buffer.from(completion(model))
    a = {
      body,
      length: String(body.byteLength),
      frames: [
        chunk(model, { role: "assistant", content: "" }, null),
        chunk(model, { content: "Hello!" }, null),
        chunk(model, { content: " How can I" }, null),
        chunk(model, { content: " help you today?" }, null),
        chunk(model, {}, "stop"),
        usageChunk(model),
        "data: [DONE]\n\n",
      ],
    }
    if (cache.size < 16) cache.set(model, a)
  }
  return a
}

const sseHead = { "content-type": "text/event-stream", "cache-control": "no-cache" }

const drip = (res, model) => {
  res.writeHead(200, sseHead)
  res.write(chunk(model, { role: "assistant", content: "" }, null))
  let sent = 0
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer)
    sent++
    if (sent >= dripChunks) {
      clearInterval(timer)
      res.write(chunk(model, {}, "stop"))
      res.end("data: [DONE]\n\n")
      return
    }
    res.write(chunk(model, { content: `tick ${sent} ` }, null))
  }, dripMs)
  res.once("close", () => clearInterval(timer))
}

const errorBody = (status) =>
  JSON.stringify({ error: { message: `injected ${status}`, type: "server_error", param: null, code: null } })

/** The soak's injected faults; true when the request was handled here. */
const fault = (model, stream, res) => {
  switch (model) {
    case "fault-500":
    case "fault-503":
    case "fault-429": {
      const status = Number(model.slice(6))
      res.writeHead(status, { "content-type": "application/json", ...(status === 429 ? { "retry-after": "1" } : {}) })
      res.end(errorBody(status))
      return true
    }
    case "fault-reset":
      if (stream) {
        res.writeHead(200, sseHead)
        const { frames } = answersFor(model)
        res.write(frames[0])
        res.write(frames[1])
        setTimeout(() => res.socket?.destroy(), 5)
      } else res.socket?.destroy()
      return true
    case "fault-hang":
      return true
    case "fault-malformed":
      if (stream) {
        res.writeHead(200, sseHead)
        const { frames } = answersFor(model)
        res.write(frames[0])
        res.write(frames[1])
        res.end("data: {not json\n\n")
      } else {
        res.writeHead(200, { "content-type": "application/json" })
        res.end('{"id":"chatcmpl-bench","choices":[{')
      }
      return true
    case "fault-slow": {
      const { frames, body, length } = answersFor(model)
      let i = 0
      const next = () => {
        if (res.destroyed) return
        if (!stream) {
          res.writeHead(200, { "content-type": "application/json", "content-length": length })
          res.end(body)
          return
        }
        if (i === 0) res.writeHead(200, sseHead)
        if (i < frames.length - 1) {
          res.write(frames[i++])
          setTimeout(next, 100)
        } else res.end(frames[i])
      }
      setTimeout(next, 100)
      return true
    }
  }
  return false
}

const server = Http.createServer((req, res) => {
  if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) {
    res.writeHead(404, { "content-type": "application/json" })
    res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}')
    return
  }
  const parts = []
  req.on("data", (c) => parts.push(c))
  req.on("end", () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(parts).toString("utf8"))
    } catch {
      res.writeHead(400, { "content-type": "application/json" })
      res.end('{"error":{"message":"bad json","type":"invalid_request_error","param":null,"code":null}}')
      return
    }
    const model = typeof body.model === "string" ? body.model : "gpt-4o-mini"
    if (model.startsWith("fault-") && fault(model, body.stream === true, res)) return
    if (body.stream === true) {
      if (model === "drip") return drip(res, model)
      res.writeHead(200, sseHead)
      const { frames } = answersFor(model)
      for (let i = 0; i < frames.length - 1; i++) res.write(frames[i])
      res.end(frames[frames.length - 1])
      return
    }
    const a = answersFor(model)
    res.writeHead(200, { "content-type": "application/json", "content-length": a.length })
    res.end(a.body)
  })
})
server.keepAliveTimeout = 60_000

const sink = Http.createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end("{}")
  })
})

server.listen(port, "127.0.0.1", () => {
  sink.listen(sinkPort, "127.0.0.1", () => {
    process.stdout.write(`READY ${server.address().port} ${sink.address().port}\n`)
  })
})
process.on("SIGTERM", () => process.exit(0))
