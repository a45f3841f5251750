/**
 * One WebSocket end of a session, with backpressure: bytes handed to `ws.send` but not yet
 * written are counted, and while they exceed `highWater` the side that feeds this one is paused
 * (it stops reading its socket, so TCP pushes back on its sender); below half of it, resumed.
 */
import { WebSocket } from "ws"

/** What can be told to stop reading: the other side of the session. */
export interface Source {
  readonly pause: () => void
  readonly resume: () => void
}

export const noSource: Source = { pause: () => {}, resume: () => {} }

export class Peer {
  private pendingBytes = 0
  source: Source = noSource

  constructor(
    readonly ws: WebSocket,
    private readonly highWater: number,
  ) {}

  get pending(): number {
    return this.pendingBytes
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  send(data: string | Buffer): void {
    if (!this.open) return
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.length
    this.pendingBytes += size
    this.ws.send(data, () => {
      this.pendingBytes -= size
      if (this.pendingBytes <= this.highWater / 2) this.source.resume()
    })
    if (this.pendingBytes > this.highWater) this.source.pause()
  }

  /** A source that pauses and resumes reading this socket. */
  asSource(): Source {
    return { pause: () => this.ws.pause(), resume: () => this.ws.resume() }
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      // Close reasons are at most 123 bytes on the wire.
      this.ws.close(
        code,
        Buffer.from(reason)
          .subarray(0, 123)
          .toString()
          .replace(/\uFFFD$/, ""),
      )
      // A peer that never answers the close handshake is cut off.
      setTimeout(() => this.ws.terminate(), 2_000).unref()
    }
  }
}
