/**
 * Middleware = Handler → Handler. It is built in an Effect so it can ask for its services
 * (a key store, a limiter store, a tracer) once, when the pipeline is assembled, not per request.
 */
import { Effect, type Layer, type Schema, type Scope } from "effect"
import type { ConfigError, GatewayConfig } from "./Config.ts"
import type { Handler } from "./Handler.ts"
import type { Admit, PlainRoute, Refused } from "./Ingress.ts"
import type { Field } from "./KeyPolicy.ts"

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
  /** Checked on the headers before the body is read (auth: the caller's key). */
  readonly admit?: Admit | undefined
  /** Told of every request answered without reaching the handler (tracing: log and count it). */
  readonly refused?: ((refused: Refused) => void) | undefined
}

/**
 * A middleware package's entry for the YAML-driven gateway: it reads its own config section
 * (failing with path-named errors) and returns undefined when the config leaves it off.
 *
 * - `sections`: the top-level config sections it owns, each with its schema. The gateway knows
 *   exactly core's sections plus every loaded plugin's; any other top-level key is an error
 *   naming it, and each present section is validated by its schema when the config is loaded.
 * - `services`: long-lived services (stores, clients) as one layer built from the config. The
 *   gateway builds it through the memo map it keeps for its whole life, so with
 *   `Services.stable` a service outlives a config reload while its own section is unchanged.
 *   `fromConfig` then asks for them through `R`, once per config, never per request.
 * - `keyPolicy`: its part of a virtual key's policy — the key fields it reads, each with its
 *   schema and typed accessor (see KeyPolicy.ts). Auth decodes them once when a key is loaded
 *   and refuses a key whose field is malformed or that nothing installed would enforce.
 * - `fromConfig` runs once per config generation; resources it opens itself (scoped) close
 *   when that generation retires (its last request done).
 */
export interface Plugin<R = never> {
  readonly name: string
  readonly sections?: Readonly<Record<string, Schema.Schema<any, any, never>>> | undefined
  readonly services?: ((config: GatewayConfig) => Layer.Layer<R, ConfigError, never>) | undefined
  readonly keyPolicy?: ReadonlyArray<Field<any>> | undefined
  readonly fromConfig: (config: GatewayConfig) => Effect.Effect<Installed | undefined, ConfigError, Scope.Scope | R>
}

/** A plugin of any service requirement (lists of plugins). */
export interface AnyPlugin {
  readonly name: string
  readonly sections?: Readonly<Record<string, Schema.Schema<any, any, never>>> | undefined
  // A layer's output is contravariant: every services layer is a Layer<never>.
  readonly services?: ((config: GatewayConfig) => Layer.Layer<never, ConfigError, never>) | undefined
  readonly keyPolicy?: ReadonlyArray<Field<any>> | undefined
  readonly fromConfig: (config: GatewayConfig) => Effect.Effect<Installed | undefined, ConfigError, any>
}

/** Whether a module's export looks like a Plugin (for plugins loaded by name at start). */
export const isPlugin = (u: unknown): u is AnyPlugin =>
  typeof u === "object" &&
  u !== null &&
  typeof (u as { name?: unknown }).name === "string" &&
  typeof (u as { fromConfig?: unknown }).fromConfig === "function"
