/**
 * The verified key of the request being served, in the Effect context: auth sets it (a
 * `FiberRef`, `Effect.locally`) around the handler inside it, so code that has no request at hand
 * — a service a middleware calls, a provider adapter's own effects, a log line's annotations —
 * can still tell whose request it serves: `yield* CurrentKey.get`.
 *
 * Middleware read the key from the request (`ctx.principal`, or `ctx.notes.principal` outside
 * auth): an argument, which costs nothing. This is for everything else, and costs one fiber-ref
 * set per request (no service lookup). A streamed answer's events are pulled after the handler
 * returned, by the server: code running in a stream's pulls reads the request, not this.
 */
import { Effect, FiberRef } from "effect"
import type { Principal } from "./Handler.ts"

/** The principal of the verified key, or undefined outside an authenticated request. */
export const ref: FiberRef.FiberRef<Principal | undefined> = FiberRef.unsafeMake<Principal | undefined>(undefined)

/** The current request's verified key, if any. */
export const get: Effect.Effect<Principal | undefined> = FiberRef.get(ref)

/** Run `effect` as serving `principal`'s request. */
export const serving =
  (principal: Principal) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.locally(effect, ref, principal)
