/**
 * Chunk-level stream stages. A Stream costs per pull, not per operator: one element per chunk
 * (how events arrive from a socket) costs ~11 µs before any operator runs, and each further
 * per-element stage adds more. A transducer does all of a stream's per-element work — framing,
 * parsing, translating — in plain JS over each incoming chunk, in one stage, and writes only
 * non-empty chunks (a pull never wakes a consumer for nothing).
 */
import { Cause, Channel, Chunk, Effect, Exit, Option, Scope, Stream } from "effect"

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
): Stream.Stream<B, never, R> => {
  const p = pullOf(self)
  if (p !== undefined) return framePulled(p, make())
  return Stream.suspend(() => {
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
}

// ---------------------------------------------------------------------------------------------
// Pulled streams: a stream that is also its pull, so that stages can be composed as plain pulls

const PulledId: unique symbol = Symbol.for("@sluice/core/Chunked/Pulled") as never

/**
 * A single-use stream's pull and its release. `pull` fails with `None` at the end; whoever takes
 * the pull instead of running the stream must call `release` exactly once, with how its
 * consumption ended (a failure of the stream itself is seen by the pull, not here).
 */
export interface Pulled<A, E> {
  readonly pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<E>>
  readonly release: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

/**
 * A stream made of a pull: run as a Stream it pulls until the end and releases once; a stage that
 * knows pulled streams (`frame`, `observe`, the server's writer) composes with the pull directly —
 * no channel, no fiber — and stays a pulled stream. For streams consumed once (answers).
 */
export const pulled = <A, E>(p: Pulled<A, E>): Stream.Stream<A, E> => {
  const stream: Stream.Stream<A, E> = Stream.ensuringWith(Stream.repeatEffectChunkOption(p.pull), p.release)
  return Object.assign(stream, { [PulledId]: p })
}

/** The pull behind a stream made by `pulled`, if it is one. */
export const pullOf = <A, E, R>(self: Stream.Stream<A, E, R>): Pulled<A, E> | undefined =>
  (self as { [PulledId]?: Pulled<A, E> })[PulledId]

/** `framer` over a pulled stream, as a pulled stream: its pull maps the inner pull's outcomes. */
const framePulled = <A, E, B>(p: Pulled<A, E>, f: Framer<A, B, E>): Stream.Stream<B> => {
  let done = false
  const pull: Effect.Effect<Chunk.Chunk<B>, Option.Option<never>> = Effect.suspend(() =>
    done
      ? Effect.fail(Option.none())
      : Effect.matchCauseEffect(p.pull, {
          onSuccess: (input) => {
            const out: Array<B> = []
            f.push(input, out)
            return out.length === 0 ? pull : Effect.succeed(Chunk.unsafeFromArray(out))
          },
          onFailure: (cause) => {
            const failure = Cause.failureOption(cause)
            if (Option.isNone(failure)) return Effect.failCause(cause as Cause.Cause<never>)
            done = true
            const out: Array<B> = []
            if (Option.isSome(failure.value)) f.fail(failure.value.value, out)
            else f.end(out)
            return out.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(out))
          },
        }),
  )
  return pulled({ pull, release: p.release })
}

/** Watches a stream chunk by chunk without changing it (metering, tracing). */
export interface Observer<A, E> {
  /** Each chunk, before it is passed on; an effect only when there is something to do. */
  readonly chunk: (chunk: Chunk.Chunk<A>) => Effect.Effect<void> | undefined
  /** The stream is done: ended, failed with `E`, or stopped (its consumer's exit). Runs once. */
  readonly done: (exit: Exit.Exit<unknown, E | unknown>) => Effect.Effect<void>
}

/**
 * `make()`'s observer over `self`. A pulled stream stays pulled (the observer wraps its pull and
 * release); any other stream gets one `mapChunksEffect` stage and a finalizer.
 */
export const observe = <A, E, R>(self: Stream.Stream<A, E, R>, make: () => Observer<A, E>): Stream.Stream<A, E, R> => {
  const p = pullOf(self)
  if (p === undefined)
    return Stream.suspend(() => {
      const o = make()
      return self.pipe(
        Stream.mapChunksEffect((chunk) => {
          const effect = o.chunk(chunk)
          return effect === undefined ? Effect.succeed(chunk) : Effect.as(effect, chunk)
        }),
        Stream.ensuringWith((exit) => o.done(exit)),
      )
    })
  const o = make()
  let failed: Exit.Exit<never, E> | undefined
  const pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<E>> = Effect.tapErrorCause(
    Effect.flatMap(p.pull, (chunk) => {
      const effect = o.chunk(chunk)
      return effect === undefined ? Effect.succeed(chunk) : Effect.as(effect, chunk)
    }),
    (cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && Option.isSome(failure.value)) failed = Exit.fail(failure.value.value)
      return Effect.void
    },
  )
  return pulled({
    pull,
    release: (exit) =>
      Effect.zipRight(
        p.release(exit),
        Effect.suspend(() => o.done(failed ?? exit)),
      ),
  }) as Stream.Stream<A, E, R>
}

/**
 * `Stream.unwrap` as a pulled stream: the effect runs on the first pull (where the caller's
 * context is, e.g. an `Upstream.Abort`), and the stream it makes is pulled directly when it is a
 * pulled stream itself, or through `Stream.toPull` in a scope of its own otherwise.
 */
export const unwrap = <A, E, E2>(effect: Effect.Effect<Stream.Stream<A, E>, E2>): Stream.Stream<A, E | E2> => {
  let inner: Effect.Effect<Chunk.Chunk<A>, Option.Option<E>> | undefined
  let release: ((exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>) | undefined
  const open: Effect.Effect<Chunk.Chunk<A>, Option.Option<E | E2>> = Effect.flatMap(
    Effect.mapError(effect, (e) => Option.some<E | E2>(e)),
    (stream) => {
      const p = pullOf(stream)
      if (p !== undefined) {
        inner = p.pull
        release = p.release
        return p.pull
      }
      return Effect.flatMap(Scope.make(), (scope) => {
        release = (exit) => Scope.close(scope, exit)
        return Effect.flatMap(Scope.extend(Stream.toPull(stream), scope), (pull) => {
          inner = pull
          return pull
        })
      })
    },
  )
  // A stream that failed to open is over: pulled again, it ends.
  const opening = Effect.tapErrorCause(open, () =>
    Effect.sync(() => {
      inner ??= Effect.fail(Option.none())
    }),
  )
  return pulled<A, E | E2>({
    pull: Effect.suspend(() => inner ?? opening),
    release: (exit) => Effect.suspend(() => (release === undefined ? Effect.void : release(exit))),
  })
}

/** `Stream.mapError` that keeps a pulled stream pulled. */
export const mapError = <A, E, R, E2>(self: Stream.Stream<A, E, R>, f: (e: E) => E2): Stream.Stream<A, E2, R> => {
  const p = pullOf(self)
  if (p === undefined) return Stream.mapError(self, f)
  return pulled<A, E2>({ pull: Effect.mapError(p.pull, Option.map(f)), release: p.release }) as Stream.Stream<A, E2, R>
}
