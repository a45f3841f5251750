/**
 * Hot reload: a config change is validated and built as a new generation of the gateway, then
 * swapped in atomically. An invalid config is rejected (same path-naming errors) and the old
 * generation keeps serving. Requests — streams included — finish on the generation they started
 * on; a retired generation's resources (its scope) close once its last request is done.
 *
 * Every generation is built with the same memo map, so long-lived services (stores, clients,
 * breakers) shared by consecutive generations are kept: they close only when the last
 * generation using them retires.
 */
import { HttpBody, type HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect, Either, Exit, Layer, Scope, Stream } from "effect"
import type { Config } from "@sluice/core"
import { App } from "@sluice/server"

export interface Generation<A extends { readonly app: HttpApp.Default }> {
  readonly assembled: A
  readonly scope: Scope.CloseableScope
  inflight: number
  retired: boolean
}

export interface Reloader<A extends { readonly app: HttpApp.Default }, C = Config.GatewayConfig> {
  /** The app to serve: it dispatches each request to the current generation. */
  readonly app: HttpApp.Default
  readonly current: () => A
  /** Build a generation from `config` and swap it in; the old one keeps serving on failure. */
  readonly reload: (config: C) => Effect.Effect<Either.Either<A, Config.ConfigError>>
}

/** Longest a retired generation waits for its requests before its resources are closed anyway. */
const retireDeadlineMs = 10 * 60 * 1000

/** `C` is what a generation is built from: a config, or a config with the modules it names. */
export const make = <A extends { readonly app: HttpApp.Default }, R, C = Config.GatewayConfig>(
  initial: C,
  build: (config: C, memoMap: Layer.MemoMap) => Effect.Effect<A, Config.ConfigError, Scope.Scope | R>,
): Effect.Effect<Reloader<A, C>, Config.ConfigError, Scope.Scope | R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const outer = yield* Effect.scope
    const memoMap = yield* Layer.makeMemoMap

    const spawn = (config: C) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const exit = yield* Effect.exit(build(config, memoMap).pipe(Scope.extend(scope), Effect.provide(context)))
        if (Exit.isFailure(exit)) {
          yield* Scope.close(scope, exit)
          return yield* Effect.failCause(exit.cause)
        }
        const generation: Generation<A> = { assembled: exit.value, scope, inflight: 0, retired: false }
        return generation
      })

    let current = yield* spawn(initial)
    // On shutdown, close whatever generation is current (retired ones close themselves).
    yield* Scope.addFinalizer(
      outer,
      Effect.suspend(() => Scope.close(current.scope, Exit.void)),
    )

    const settle = (g: Generation<A>) => (g.retired && g.inflight === 0 ? Scope.close(g.scope, Exit.void) : Effect.void)

    const leave = (g: Generation<A>) =>
      Effect.suspend(() => {
        g.inflight--
        return settle(g)
      })

    const app: HttpApp.Default = Effect.suspend(() => {
      const g = current
      g.inflight++
      return g.assembled.app.pipe(
        Effect.map((response) => {
          const body = response.body
          if (body._tag !== "Stream") return response
          // A streamed body outlives this effect: count the request done when the stream ends.
          return HttpServerResponse.setBody(
            response,
            HttpBody.stream(Stream.ensuring(body.stream, leave(g)), body.contentType, body.contentLength),
          )
        }),
        Effect.onExit((exit) => (Exit.isSuccess(exit) && exit.value.body._tag === "Stream" ? Effect.void : leave(g))),
      )
    })

    // node:http's fast path (App.NodeRoute) on the current generation, counted like the app's requests.
    App.withNodeRoute(app, (req, res) => {
      const g = current
      const served = App.nodeRouteOf(g.assembled.app)?.(req, res)
      if (served === undefined) return undefined
      g.inflight++
      return Effect.ensuring(served, leave(g))
    })

    const reload = (config: C) =>
      Effect.gen(function* () {
        const next = yield* Effect.either(spawn(config))
        if (Either.isLeft(next)) return Either.left(next.left)
        const old = current
        current = next.right
        old.retired = true
        yield* settle(old)
        // A request that never finishes (a stream nobody reads) must not pin old resources forever.
        yield* Effect.forkDaemon(
          Effect.delay(
            Effect.suspend(() => (old.inflight > 0 ? Scope.close(old.scope, Exit.void) : Effect.void)),
            retireDeadlineMs,
          ),
        )
        return Either.right(next.right.assembled)
      })

    return { app, current: () => current.assembled, reload }
  })
