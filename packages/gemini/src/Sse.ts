/**
 * Reading a Gemini upstream's `alt=sse` body: bytes → events (split on a blank line, whichever
 * line ending) → the JSON of each event's `data:` lines. Google reports a failure after the
 * first byte as a bare `{"error":…}` object (what js-genai looks for), so a block that is not an
 * SSE event but parses as an error object is surfaced as one.
 */
import { Stream } from "effect"

const boundary = /\r\n\r\n|\n\n|\r\r/

export type Frame =
  | { readonly _tag: "data"; readonly json: unknown }
  | { readonly _tag: "error"; readonly json: unknown }

const parseBlock = (block: string): Frame | undefined => {
  const trimmed = block.trim()
  if (trimmed === "") return undefined
  const lines = trimmed.split(/\r\n|\n|\r/)
  const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(l.startsWith("data: ") ? 6 : 5))
  if (data.length > 0) {
    try {
      return { _tag: "data", json: JSON.parse(data.join("\n")) }
    } catch {
      return { _tag: "error", json: { error: { message: `unparseable SSE event: ${data.join("\n").slice(0, 200)}` } } }
    }
  }
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      const json = JSON.parse(trimmed) as unknown
      const first = Array.isArray(json) ? json[0] : json
      if (typeof first === "object" && first !== null && "error" in first) return { _tag: "error", json: first }
    } catch {}
  }
  return undefined
}

/** Incremental framing: feed bytes, get the frames they complete. State per stream. */
export class FrameParser {
  private readonly decoder = new TextDecoder()
  private buffer = ""

  push(bytes: Uint8Array, out: Array<Frame>): void {
    this.text(this.decoder.decode(bytes, { stream: true }), out)
  }

  private text(text: string, out: Array<Frame>): void {
    this.buffer += text
    for (let m = boundary.exec(this.buffer); m !== null; m = boundary.exec(this.buffer)) {
      const f = parseBlock(this.buffer.slice(0, m.index))
      this.buffer = this.buffer.slice(m.index + m[0].length)
      if (f !== undefined) out.push(f)
    }
    // A bare error object is not followed by a blank line.
    const bare = this.buffer.trimStart().startsWith("{") ? parseBlock(this.buffer) : undefined
    if (bare?._tag === "error") {
      this.buffer = ""
      out.push(bare)
    }
  }

  /** What is left: a last block without its blank line still counts. */
  end(out: Array<Frame>): void {
    const tail = this.decoder.decode()
    if (tail !== "") this.text(tail, out)
    const f = parseBlock(this.buffer)
    this.buffer = ""
    if (f !== undefined) out.push(f)
  }
}

/** SSE text frames of a byte stream. */
export const frames = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Frame, E, R> =>
  Stream.suspend(() => {
    const parser = new FrameParser()
    return bytes.pipe(
      Stream.mapConcat((b) => {
        const out: Array<Frame> = []
        parser.push(b, out)
        return out
      }),
      Stream.concat(
        Stream.suspend(() => {
          const out: Array<Frame> = []
          parser.end(out)
          return Stream.fromIterable(out)
        }),
      ),
    )
  })
