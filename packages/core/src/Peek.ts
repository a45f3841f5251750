/**
 * Pull a stream's first element before answering, so a failure that happens before anything was
 * produced (an upstream 429 on connect, a missing model) is answered with its real HTTP status
 * instead of a 200 followed by an error frame. The rest of the stream is pulled as the client
 * reads; the upstream call is released when the body ends or the client goes away.
 */
import { Cause, Effect, Exit, Option, Scope, Stream } from "effect"

export type Peeked<A, E> =
  | { readonly _tag: "Failed"; readonly error: E }
  | { readonly _tag: "Ready"; readonly stream: Stream.Stream<A, E> }

export const peek = <A, E>(stream: Stream.Stream<A, E>): Effect.Effect<Peeked<A, E>> =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const close = Scope.close(scope, Exit.void)
    const pull = yield* Scope.extend(Stream.toPull(stream), scope)
    const first = yield* Effect.exit(pull)
    if (Exit.isSuccess(first)) {
      const rest = Stream.repeatEffectChunkOption(pull)
      return {
        _tag: "Ready",
        stream: Stream.concat(Stream.fromChunk(first.value), rest).pipe(Stream.ensuring(close)),
      } as const
    }
    yield* close
    const failure = Cause.failureOption(first.cause)
    if (Option.isNone(failure)) return yield* Effect.failCause(first.cause as Cause.Cause<never>)
    // Fail(None) is the end of the stream: it produced nothing.
    return Option.isSome(failure.value)
      ? ({ _tag: "Failed", error: failure.value.value } as const)
      : ({ _tag: "Ready", stream: Stream.empty } as const)
  })
