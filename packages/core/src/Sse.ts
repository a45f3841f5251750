/**
 * Server-sent events from an upstream's byte stream (every provider that reads SSE uses this): UTF-8 decoded across chunk boundaries,
 * lines split on \n, \r\n or \r, events dispatched on blank lines, `data:` lines joined with \n.
 * `Parser` does it in plain JS per incoming chunk, so a provider can fuse its own per-event work
 * into the same stage (see Chunked); `events` is that parser as a Stream stage.
 */
import type { Stream } from "effect"
import * as Chunked from "./Chunked.ts"

export interface Event {
  readonly event: string | undefined
  readonly data: string
}

/** Incremental SSE framing: feed bytes, get the events they complete. State per stream. */
export class Parser {
  private readonly decoder = new TextDecoder()
  /** An unfinished line carried over from the previous chunk. */
  private rest = ""
  /** The previous chunk ended in \r: a \n starting this one belongs to that line ending. */
  private afterCR = false
  private event: string | undefined = undefined
  private data: Array<string> = []

  push(bytes: Uint8Array, out: Array<Event>): void {
    this.text(this.decoder.decode(bytes, { stream: true }), out)
  }

  /** Dispatch what is left (a last event without its blank line still counts). */
  end(out: Array<Event>): void {
    const tail = this.decoder.decode()
    if (tail !== "") this.text(tail, out)
    if (this.rest !== "") {
      this.line(this.rest, out)
      this.rest = ""
    }
    this.dispatch(out)
  }

  private text(s: string, out: Array<Event>): void {
    let text = s
    let start = 0
    let i = 0
    if (this.afterCR) {
      // Then `rest` is empty: the last chunk ended exactly on its line ending.
      this.afterCR = false
      if (s.charCodeAt(0) === 10) start = i = 1
    } else if (this.rest !== "") {
      // `rest` holds no line ending: scan only what is new.
      text = this.rest + s
      i = this.rest.length
      this.rest = ""
    }
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      this.line(text.slice(start, i), out)
      if (c === 13) {
        if (i + 1 === text.length) this.afterCR = true
        else if (text.charCodeAt(i + 1) === 10) i++
      }
      start = i + 1
    }
    if (start < text.length) this.rest = text.slice(start)
  }

  private line(line: string, out: Array<Event>): void {
    if (line === "") {
      this.dispatch(out)
      return
    }
    if (line.charCodeAt(0) === 58 /* : comment */) return
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? "" : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === "data") this.data.push(value)
    else if (field === "event") this.event = value
  }

  private dispatch(out: Array<Event>): void {
    if (this.data.length > 0)
      out.push({ event: this.event, data: this.data.length === 1 ? this.data[0]! : this.data.join("\n") })
    this.event = undefined
    this.data = []
  }
}

export const events = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Event, E, R> =>
  Chunked.transduce<Uint8Array, E, R, Event, never>(bytes, () => {
    const parser = new Parser()
    return {
      push: (input, out) => {
        for (const b of input) parser.push(b, out)
        return undefined
      },
      end: (out) => {
        parser.end(out)
        return undefined
      },
    }
  })
