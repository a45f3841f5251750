/**
 * Chunk-level stream stages. A Stream costs per pull, not per operator: one element per chunk
 * (how events arrive from a socket) costs ~11 µs before any operator runs, and each further
 * per-element stage adds more. A transducer does all of a stream's per-element work — framing,
 * parsing, translating — in plain JS over each incoming chunk, in one stage, and writes only
 * non-empty chunks (a pull never wakes a consumer for nothing).
 */
import { Cause, Channel, Chunk, Option, Stream } from "effect"

export interface Transducer<A, B, E> {
  /** Consume one incoming chunk, pushing outputs to `out`; a returned error ends the stream after them. */
  readonly push: (input: Chunk.Chunk<A>, out: Array<B>) => E | undefined
  /** The input ended: push what is left; a returned error ends the stream after it. */
  readonly end: (out: Array<B>) => E | undefined
}

/** Run `make()`'s transducer (fresh state per stream run) over `self`. */
export const transduce = <A, E, R, B, E2>(
  self: Stream.Stream<A, E, R>,
  make: () => Transducer<A, B, E2>,
): Stream.Stream<B, E | E2, R> =>
  Stream.suspend(() => {
    const t = make()
    const emit = (
      out: Array<B>,
      error: E2 | undefined,
      next: Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, E | E2, E, unknown, unknown>,
    ): Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, E | E2, E, unknown, unknown> => {
      const then = error === undefined ? next : Channel.fail(error)
      return out.length === 0 ? then : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), then)
    }
    const loop: Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, E | E2, E, unknown, unknown> = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<A>) => {
        const out: Array<B> = []
        return emit(out, t.push(input, out), loop)
      },
      onFailure: (cause) => Channel.failCause(cause),
      onDone: () => {
        const out: Array<B> = []
        return emit(out, t.end(out), Channel.void)
      },
    })
    return Stream.pipeThroughChannel(self, loop)
  })

/** Encodes a stream into frames, its failure included: a stream that cannot fail. */
export interface Framer<A, B, E> {
  /** One incoming chunk → frames pushed to `out`. */
  readonly push: (input: Chunk.Chunk<A>, out: Array<B>) => void
  /** The stream failed with `error`: its last frames (the stream then ends). */
  readonly fail: (error: E, out: Array<B>) => void
  /** The stream ended: its last frames. */
  readonly end: (out: Array<B>) => void
}

/**
 * `make()`'s framer over `self`, in one stage: what `mapConcat` → `catchAll` → `concat` does in
 * three (each a channel of its own, per stream and per pull). Defects and interruption pass through.
 */
export const frame = <A, E, R, B>(
  self: Stream.Stream<A, E, R>,
  make: () => Framer<A, B, E>,
): Stream.Stream<B, never, R> =>
  Stream.suspend(() => {
    const f = make()
    const last = (out: Array<B>) => (out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out)))
    const loop: Channel.Channel<Chunk.Chunk<B>, Chunk.Chunk<A>, never, E, unknown, unknown> = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<A>) => {
        const out: Array<B> = []
        f.push(input, out)
        return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
      },
      onFailure: (cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isNone(failure)) return Channel.failCause(cause as Cause.Cause<never>)
        const out: Array<B> = []
        f.fail(failure.value, out)
        return last(out)
      },
      onDone: () => {
        const out: Array<B> = []
        f.end(out)
        return last(out)
      },
    })
    return Stream.pipeThroughChannel(self, loop)
  })
