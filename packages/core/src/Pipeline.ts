/**
 * A Pipeline is an ordered list of middleware around a terminal handler. The first middleware
 * in the list is the outermost: it sees the request first and the response last.
 */
import { Effect } from "effect"
import type { Handler } from "./Handler.ts"
import type { MiddlewareSpec } from "./Middleware.ts"

type ErrorOf<M> = M extends MiddlewareSpec<infer E, infer _R> ? E : never
type ContextOf<M> = M extends MiddlewareSpec<infer _E, infer R> ? R : never

export const build = <const Ms extends ReadonlyArray<MiddlewareSpec<any, any>>>(
  terminal: Handler,
  middleware: Ms,
): Effect.Effect<Handler, ErrorOf<Ms[number]>, ContextOf<Ms[number]>> =>
  Effect.gen(function* () {
    const built: Array<(next: Handler) => Handler> = []
    for (const spec of middleware) built.push(yield* spec.build)
    let handler = terminal
    for (let i = built.length - 1; i >= 0; i--) handler = built[i]!(handler)
    return handler
  }) as Effect.Effect<Handler, ErrorOf<Ms[number]>, ContextOf<Ms[number]>>
