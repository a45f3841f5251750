/**
 * A scriptable HTTP server on loopback that plays a provider's API. Protocol packages register
 * routes that speak their wire format; tests script answers (JSON, SSE with delays, status
 * errors, connection resets, hangs) and read back what the gateway sent.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface Recorded {
  readonly method: string
  readonly path: string
  /** The request target exactly as received (not normalised: `..` and `%2F` stay as sent). */
  readonly url: string
  readonly query: URLSearchParams
  readonly headers: Http.IncomingHttpHeaders
  readonly body: unknown
  /** The body's bytes as received (multipart forms, uploads). */
  readonly raw: Buffer
  /** Resolves when the gateway's connection for this request closed (abort detection). */
  readonly closed: Promise<number>
}

export type Responder = (req: Recorded, res: Http.ServerResponse) => void | Promise<void>

interface Entry {
  readonly method: string
  readonly test: (path: string) => boolean
  readonly responder: Responder
}

export interface MockUpstream {
  readonly url: string
  readonly port: number
  readonly requests: Array<Recorded>
  /** Add a route; later routes win over earlier ones for the same path. */
  readonly on: (method: string, path: string | RegExp, responder: Responder) => MockUpstream
  /** Answer the next matching request with `responder` once, then fall back to the routes. */
  readonly once: (method: string, path: string | RegExp, responder: Responder) => MockUpstream
  readonly close: () => Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const start = async (): Promise<MockUpstream> => {
  const routes: Array<Entry> = []
  const onceRoutes: Array<Entry> = []
  const requests: Array<Recorded> = []
  const server = Http.createServer(async (req, res) => {
    const started = Date.now()
    const closed = new Promise<number>((resolve) => res.once("close", () => resolve(Date.now() - started)))
    const chunks: Array<Buffer> = []
    for await (const c of req) chunks.push(c as Buffer)
    const rawBytes = Buffer.concat(chunks)
    const raw = rawBytes.toString("utf8")
    let body: unknown = raw
    try {
      body = raw === "" ? undefined : JSON.parse(raw)
    } catch {}
    const url = new URL(req.url ?? "/", "http://localhost")
    const recorded: Recorded = {
      method: req.method ?? "GET",
      path: url.pathname,
      url: req.url ?? "/",
      query: url.searchParams,
      headers: req.headers,
      body,
      raw: rawBytes,
      closed,
    }
    requests.push(recorded)
    const pick = (list: Array<Entry>) => {
      for (let i = list.length - 1; i >= 0; i--) {
        const e = list[i]!
        if (e.method === recorded.method && e.test(recorded.path)) return i
      }
      return -1
    }
    const o = pick(onceRoutes)
    let responder: Responder | undefined
    if (o >= 0) responder = onceRoutes.splice(o, 1)[0]!.responder
    else {
      const r = pick(routes)
      responder = r >= 0 ? routes[r]!.responder : undefined
    }
    if (responder === undefined) {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(
        JSON.stringify({ error: { message: `mock upstream has no route for ${recorded.method} ${recorded.path}` } }),
      )
      return
    }
    try {
      await responder(recorded, res)
    } catch (e) {
      if (!res.headersSent) res.writeHead(500)
      res.end(String(e))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const toTest = (path: string | RegExp) =>
    typeof path === "string" ? (p: string) => p === path : (p: string) => path.test(p)
  const self: MockUpstream = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    on: (method, path, responder) => {
      routes.push({ method, test: toTest(path), responder })
      return self
    },
    once: (method, path, responder) => {
      onceRoutes.push({ method, test: toTest(path), responder })
      return self
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return self
}

// ---- responders ----------------------------------------------------------------------------

export const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Responder =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers })
    res.end(JSON.stringify(body))
  }

/** Write pre-framed SSE text chunks, waiting `delayMs` before each. */
export const sse =
  (frames: ReadonlyArray<string>, options: { delayMs?: number; status?: number } = {}): Responder =>
  async (_req, res) => {
    res.writeHead(options.status ?? 200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    for (const f of frames) {
      if (options.delayMs) await sleep(options.delayMs)
      if (res.destroyed) return
      res.write(f)
    }
    res.end()
  }

/** Send `frames`, then destroy the socket (connection reset mid-stream). */
export const resetAfter =
  (frames: ReadonlyArray<string>, contentType = "text/event-stream"): Responder =>
  async (_req, res) => {
    res.writeHead(200, { "content-type": contentType })
    for (const f of frames) res.write(f)
    await sleep(20)
    res.socket?.destroy()
  }

/** Never answer (until the client gives up). */
export const hang: Responder = () => new Promise<void>(() => {})

export const delayed =
  (ms: number, responder: Responder): Responder =>
  async (req, res) => {
    await sleep(ms)
    return responder(req, res)
  }
