/**
 * An OTLP/HTTP collector on loopback that records every export it receives (traces and metrics,
 * JSON or protobuf, as raw text) and answers as a collector does.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"

export interface Export {
  readonly path: string
  readonly contentType: string
  /** The body as text (gunzipped when compressed). */
  readonly text: string
}

export interface OtlpReceiver {
  readonly url: string
  readonly exports: Array<Export>
  /** Everything received on a signal's path, concatenated. */
  readonly text: (signal?: "traces" | "metrics") => string
  readonly close: () => Promise<void>
}

export const start = async (): Promise<OtlpReceiver> => {
  const exports: Array<Export> = []
  const server = Http.createServer(async (req, res) => {
    const chunks: Array<Buffer> = []
    for await (const c of req) chunks.push(c as Buffer)
    let body = Buffer.concat(chunks)
    if (req.headers["content-encoding"] === "gzip") body = Zlib.gunzipSync(body)
    const contentType = String(req.headers["content-type"] ?? "")
    exports.push({ path: req.url ?? "/", contentType, text: body.toString("latin1") })
    if (contentType.includes("json")) {
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    } else {
      res.writeHead(200, { "content-type": "application/x-protobuf" })
      res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    text: (signal) =>
      exports
        .filter((e) => signal === undefined || e.path.endsWith(`/v1/${signal}`))
        .map((e) => e.text)
        .join("\n"),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
