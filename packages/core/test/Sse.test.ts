import { Chunk, Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Chunked, Sse } from "../src/index.ts"

const enc = new TextEncoder()

const parseWhole = (text: string) => {
  const out: Array<Sse.Event> = []
  const p = new Sse.Parser()
  p.push(enc.encode(text), out)
  p.end(out)
  return out
}

/** Every split of the bytes into two chunks gives the same events as the whole. */
const parseSplit = (text: string, at: number) => {
  const bytes = enc.encode(text)
  const out: Array<Sse.Event> = []
  const p = new Sse.Parser()
  p.push(bytes.subarray(0, at), out)
  p.push(bytes.subarray(at), out)
  p.end(out)
  return out
}

describe("Sse.Parser", () => {
  const text =
    ': comment\r\nevent: delta\r\ndata: {"a":"é ✓"}\r\n\r\ndata: one\ndata: two\n\ndata:x\r\rdata: [DONE]\n\ndata: tail'
  const expected = [
    { event: "delta", data: '{"a":"é ✓"}' },
    { event: undefined, data: "one\ntwo" },
    { event: undefined, data: "x" },
    { event: undefined, data: "[DONE]" },
    { event: undefined, data: "tail" },
  ]

  it("frames events on \\n, \\r\\n and \\r, joins data lines, skips comments, keeps a last event without its blank line", () => {
    expect(parseWhole(text)).toEqual(expected)
  })

  it("gives the same events however the bytes are split (inside UTF-8 sequences and CR LF pairs too)", () => {
    const length = enc.encode(text).length
    for (let at = 0; at <= length; at++) expect(parseSplit(text, at), `split at ${at}`).toEqual(expected)
  })

  it("as a stream stage: one byte per chunk", async () => {
    const bytes = Array.from(enc.encode(text), (b) => Uint8Array.of(b))
    const events = await Effect.runPromise(Stream.runCollect(Sse.events(Stream.fromIterable(bytes))))
    expect(Chunk.toReadonlyArray(events)).toEqual(expected)
  })
})

describe("Chunked.transduce", () => {
  it("writes outputs before a returned error, and never an empty chunk", async () => {
    const chunks: Array<number> = []
    const stream = Chunked.transduce(Stream.fromIterable([1, 2, 3, 4]).pipe(Stream.rechunk(1)), () => ({
      push: (input, out: Array<number>) => {
        for (const n of input) if (n % 2 === 0) out.push(n * 10)
        return Chunk.unsafeHead(input) === 4 ? "boom" : undefined
      },
      end: () => undefined,
    })).pipe(
      Stream.mapChunks((c) => {
        chunks.push(c.length)
        return c
      }),
    )
    const result = await Effect.runPromise(Effect.either(Stream.runCollect(stream)))
    expect(result._tag).toBe("Left")
    expect(chunks).toEqual([1, 1])
  })
})
