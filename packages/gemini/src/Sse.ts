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

/** SSE text frames of a byte stream. */
export const frames = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Frame, E, R> =>
  Stream.suspend(() => {
    let buffer = ""
    return bytes.pipe(
      Stream.decodeText(),
      Stream.mapConcat((text) => {
        buffer += text
        const out: Array<Frame> = []
        for (let m = boundary.exec(buffer); m !== null; m = boundary.exec(buffer)) {
          const f = parseBlock(buffer.slice(0, m.index))
          buffer = buffer.slice(m.index + m[0].length)
          if (f !== undefined) out.push(f)
        }
        // A bare error object is not followed by a blank line.
        const bare = buffer.trimStart().startsWith("{") ? parseBlock(buffer) : undefined
        if (bare?._tag === "error") {
          buffer = ""
          out.push(bare)
        }
        return out
      }),
      Stream.concat(
        Stream.suspend(() => {
          const f = parseBlock(buffer)
          buffer = ""
          return f === undefined ? Stream.empty : Stream.make(f)
        }),
      ),
    )
  })
