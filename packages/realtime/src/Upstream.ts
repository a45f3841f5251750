/**
 * An upstream realtime session over WebSocket. A translator turns canonical inputs into the
 * upstream's frames and its frames back into outputs; when the client speaks the same protocol
 * the session relays raw frames instead and uses the translator only to observe (usage, turns).
 */
import { WebSocket } from "ws"
import type { Format } from "./Codec.ts"
import type { Ending, Input, Output } from "./Events.ts"
import { echo } from "./Json.ts"
import { Peer, type Source } from "./Peer.ts"

export interface Translator {
  readonly encode: (input: Input) => ReadonlyArray<string>
  readonly decode: (frame: string) => ReadonlyArray<Output>
}

export interface Handlers {
  /** Outputs decoded from one upstream frame, and the frame itself (for relaying). */
  readonly output: (outputs: ReadonlyArray<Output>, raw: string) => void
  readonly closed: (ending: Ending) => void
}

export interface Upstream {
  readonly format: Format | "mock"
  readonly send: (input: Input) => void
  readonly sendRaw: (frame: string) => void
  /** Pauses and resumes reading the upstream (when the client is slow to take its frames). */
  readonly source: Source
  /** Bytes sent but not yet written to the upstream (the client is paused while this is high). */
  readonly peer: Peer | undefined
  readonly close: () => void
}

export interface Connection {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly maxPayload: number
  readonly highWater: number
  /** Milliseconds to wait for the upstream's handshake. */
  readonly connectTimeout: number
}

const endingOf = (code: number, reason: string): Ending => {
  const message = reason === "" ? `the upstream closed the session (${code})` : `upstream: ${echo(reason, 100)}`
  if (code === 1000 || code === 1001 || code === 1005) return { _tag: "Normal", message }
  if (code === 1007) return { _tag: "Invalid", message }
  if (code === 1008) return { _tag: "Policy", message }
  return { _tag: "Unavailable", message }
}

export const connect = (
  format: Format,
  connection: Connection,
  translator: Translator,
  handlers: Handlers,
): Upstream => {
  const ws = new WebSocket(connection.url, {
    headers: connection.headers,
    maxPayload: connection.maxPayload,
    handshakeTimeout: connection.connectTimeout,
    perMessageDeflate: false,
  })
  const peer = new Peer(ws, connection.highWater)
  const queued: Array<string> = []
  let ended = false
  const end = (ending: Ending) => {
    if (ended) return
    ended = true
    handlers.closed(ending)
  }
  const sendRaw = (frame: string) => {
    if (ws.readyState === WebSocket.CONNECTING) queued.push(frame)
    else peer.send(frame)
  }
  ws.on("open", () => {
    for (const f of queued.splice(0)) peer.send(f)
  })
  ws.on("message", (data, isBinary) => {
    // Live sends its JSON in binary frames too; both are text to the client.
    const text = isBinary || typeof data !== "string" ? Buffer.from(data as Buffer).toString("utf8") : data
    let outputs: ReadonlyArray<Output>
    try {
      outputs = translator.decode(text)
    } catch {
      outputs = []
    }
    handlers.output(outputs, text)
  })
  ws.on("unexpected-response", (_req, res) => {
    const status = res.statusCode ?? 502
    res.resume()
    end(
      status === 401 || status === 403
        ? { _tag: "Unavailable", message: `the upstream refused the gateway's credentials (HTTP ${status})` }
        : { _tag: "Unavailable", message: `the upstream refused the session (HTTP ${status})` },
    )
    ws.terminate()
  })
  ws.on("error", (e) =>
    end({ _tag: "Unavailable", message: `the upstream connection failed: ${echo(e.message, 100)}` }),
  )
  ws.on("close", (code, reason) => end(endingOf(code, reason.toString())))
  return {
    format,
    send: (input) => {
      for (const f of translator.encode(input)) sendRaw(f)
    },
    sendRaw,
    source: peer.asSource(),
    peer,
    close: () => {
      ended = true
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
      else peer.close(1000, "")
    },
  }
}
