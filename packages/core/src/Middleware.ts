/**
 * Middleware = Handler → Handler. It is built in an Effect so it can ask for its services
 * (a key store, a limiter store, a tracer) once, when the pipeline is assembled, not per request.
 */
import { Effect, type Scope } from "effect"
import type { ConfigError, GatewayConfig } from "./Config.ts"
import type { Handler } from "./Handler.ts"
import type { PlainRoute } from "./Ingress.ts"

export type Middleware = (next: Handler) => Handler

/**
 * A named middleware whose construction may need services R and may fail with E
 * (bad options fail at start, not on the first request).
 */
export interface MiddlewareSpec<E = never, R = never> {
  readonly name: string
  readonly build: Effect.Effect<Middleware, E, R>
}

export const make = <E = never, R = never>(
  name: string,
  build: Effect.Effect<Middleware, E, R>,
): MiddlewareSpec<E, R> => ({ name, build })

/** A middleware that needs no services. */
export const of = (name: string, middleware: Middleware): MiddlewareSpec => ({
  name,
  build: Effect.succeed(middleware),
})

/** What a middleware package installs into a config-driven gateway. */
export interface Installed {
  readonly middleware: Middleware
  /** HTTP routes it serves besides the wire formats (e.g. `/admin/*`, `/metrics`). */
  readonly routes?: ReadonlyArray<PlainRoute> | undefined
}

/**
 * A middleware package's entry for the YAML-driven gateway: it reads its own config section
 * (failing with path-named errors) and returns undefined when the config leaves it off.
 * Resources it opens (Redis connections, exporters) are scoped to the gateway's lifetime.
 */
export interface Plugin {
  readonly name: string
  readonly fromConfig: (config: GatewayConfig) => Effect.Effect<Installed | undefined, ConfigError, Scope.Scope>
}
