/**
 * A bound on one store call that measures the store, not this process's own backlog.
 *
 * A plain timer races the reply inside the event loop: under a burst the loop is busy with
 * other requests, the timer phase comes before the I/O phase, and a reply that Redis sent in a
 * millisecond loses to a timer that merely fired late — on a healthy Redis. So when the timer
 * fires, the decision waits one turn (`setImmediate`, after the I/O phase): a reply already
 * received is read first. Only a store that has not answered by then is late.
 *
 * A command that did go out cannot be recalled: if its answer comes after the deadline (or
 * after the caller went away), `late` gets it, so a take that was refused locally can be given
 * back instead of silently using up the caller's limit.
 */
import { Effect } from "effect"

export const bounded = <A, E>(options: {
  readonly run: () => Promise<A>
  readonly timeoutMs: number
  readonly onError: (reason: string) => E
  readonly late?: ((a: A) => void) | undefined
}): Effect.Effect<A, E> =>
  Effect.async<A, E>((resume) => {
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (outcome: Effect.Effect<A, E>) => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      resume(outcome)
    }
    let promise: Promise<A>
    try {
      promise = options.run()
    } catch (e) {
      finish(Effect.fail(options.onError(String(e))))
      return
    }
    promise.then(
      (a) => {
        if (settled) options.late?.(a)
        else finish(Effect.succeed(a))
      },
      (e: unknown) => finish(Effect.fail(options.onError(String(e)))),
    )
    timer = setTimeout(() => {
      setImmediate(() => finish(Effect.fail(options.onError(`no answer within ${options.timeoutMs} ms`))))
    }, options.timeoutMs)
    return Effect.sync(() => {
      settled = true
      if (timer !== undefined) clearTimeout(timer)
    })
  })
