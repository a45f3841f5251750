/**
 * The baseline for "one Node hop": a minimal node:http pass-through proxy. It forwards method,
 * path, headers and body to the upstream over a keep-alive agent and pipes the answer back —
 * no parsing, no translation. Whatever Sluice costs beyond this is its own work.
 *
 * Usage: node bench/proxy.mjs <port> <upstreamPort>
 */
import * as Http from "node:http"

const port = Number(process.argv[2] ?? 0)
const upstreamPort = Number(process.argv[3])
const agent = new Http.Agent({ keepAlive: true })

const server = Http.createServer((req, res) => {
  const headers = { ...req.headers }
  delete headers.host
  delete headers.connection
  const up = Http.request(
    { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  up.on("error", () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" })
    res.end('{"error":{"message":"upstream unreachable"}}')
  })
  // A client that leaves stops the upstream call too.
  res.on("close", () => {
    if (!res.writableFinished) up.destroy()
  })
  req.pipe(up)
})
server.keepAliveTimeout = 60_000
server.listen(port, "127.0.0.1", () => process.stdout.write(`READY ${server.address().port}\n`))
process.on("SIGTERM", () => process.exit(0))
