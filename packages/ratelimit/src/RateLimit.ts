/**
 * The rate-limit middleware: per caller (a verified key's principal, or one shared bucket for
 * anonymous callers), take one request and the estimated input tokens before the call, correct
 * the token bucket with the real usage after it (streams: at `finish`), and report the buckets
 * in `x-ratelimit-*` headers. A store that fails or is slow is handled by `failMode`: `open`
 * lets the request through unmetered, `closed` answers 503; either way within `timeout`.
 */
import { Effect, Schema } from "effect"
import { Config, Handler, type Middleware, Middleware as MiddlewareM, type MiddlewareSpec } from "@sluice/core"
import { Errors, type GatewayError } from "@sluice/schema"
import * as Headers from "./Headers.ts"
import type { Decision, LimiterStore, Limits } from "./Limiter.ts"
import { Limiter } from "./LimiterService.ts"
import * as Policy from "./Policy.ts"
import * as Tokens from "./Tokens.ts"
import * as Usage from "./Usage.ts"

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())
export const LimitsSchema = Schema.Struct({ rpm: Schema.optional(PositiveInt), tpm: Schema.optional(PositiveInt) })
export const FailMode = Schema.Literal("open", "closed")
export type FailMode = typeof FailMode.Type

/** The options a caller may get wrong, validated when the middleware is built. */
export const Settings = Schema.Struct({
  /** What to do when the store cannot answer in time. Closed by default: limits are a safety net. */
  failMode: Schema.optionalWith(FailMode, { default: () => "closed" as const }),
  /** Limits for keys that have none of their own (a key's own rpm/tpm win field by field). */
  default: Schema.optional(LimitsSchema),
  /** One shared bucket for requests without a verified key (open gateway, passthrough). */
  anonymous: Schema.optional(LimitsSchema),
})
export type Settings = typeof Settings.Encoded

export interface RateLimitOptions extends Settings {
  readonly store: LimiterStore
  /** Input-token estimator; by default `Tokens.fast` (`Tokens.loaded` is the BPE tokenizer). */
  readonly estimator?: Tokens.Estimator | undefined
}

const retrySeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

const refusal = (decision: Decision, limits: Limits, cost: number, who: string): GatewayError => {
  if (decision.retryAfterMs === undefined) {
    return new Errors.RateLimited({
      message: `this request needs about ${cost} tokens, more than ${who}'s limit of ${limits.tpm} tokens per minute`,
    })
  }
  const byRequests = decision.requests !== undefined && decision.requests.remaining < 1
  return new Errors.RateLimited({
    message: byRequests
      ? `rate limit reached for ${who}: ${limits.rpm} requests per minute`
      : `rate limit reached for ${who}: ${limits.tpm} tokens per minute`,
    retryAfterSeconds: retrySeconds(decision.retryAfterMs),
  })
}

export const make = (
  options: RateLimitOptions,
  settings: typeof Settings.Type,
  estimator: Tokens.Estimator,
): Middleware.Middleware => {
  const { store } = options
  let degraded = false
  const storeFailed = (reason: string) =>
    Effect.suspend(() => {
      const first = !degraded
      degraded = true
      return first
        ? Effect.logWarning(`ratelimit: store unavailable (${reason}); failing ${settings.failMode}`)
        : Effect.void
    })
  const storeOk = Effect.suspend(() => {
    if (!degraded) return Effect.void
    degraded = false
    return Effect.logInfo("ratelimit: store reachable again")
  })

  return (next) => (request) => {
    if (request._tag === "ListModels") return next(request)
    const principal = request.ctx.principal
    // Decoded when the key was loaded: typed here, never parsed again.
    const own = Policy.rateLimit.get(principal)
    const limits: Limits | undefined =
      principal === undefined
        ? settings.anonymous
        : own === undefined
          ? settings.default
          : { ...settings.default, ...own }
    if (limits === undefined || (limits.rpm === undefined && limits.tpm === undefined)) return next(request)
    const key = principal === undefined ? "anon" : `k:${principal.id}`
    const who = principal === undefined ? "anonymous callers" : `key "${principal.name}"`
    const cost = limits.tpm === undefined ? 0 : estimator.estimate(request)

    const adjust = (delta: number) =>
      delta === 0 ? Effect.void : store.adjust(key, limits, delta).pipe(Effect.catchAll((e) => storeFailed(e.reason)))

    return store.take(key, limits, cost).pipe(
      Effect.matchEffect({
        onFailure: (e) =>
          Effect.zipRight(
            storeFailed(e.reason),
            settings.failMode === "open"
              ? next(request)
              : Effect.fail(
                  new Errors.Unavailable({
                    message: "rate limiting is unavailable; try again shortly",
                    retryAfterSeconds: 1,
                  }),
                ),
          ),
        onSuccess: (decision) =>
          Effect.zipRight(
            storeOk,
            decision.allowed
              ? next(request).pipe(
                  // A call that failed before answering used no tokens.
                  Effect.tapError(() => adjust(-cost)),
                  Effect.flatMap((response) =>
                    Usage.observe(response, (actual) =>
                      actual.usage === undefined || limits.tpm === undefined
                        ? Effect.void
                        : adjust(Usage.total(actual.usage) - cost),
                    ),
                  ),
                  Effect.map((response) => Handler.withHeaders(response, Headers.of(decision))),
                )
              : Effect.fail(refusal(decision, limits, cost, who)),
          ),
      }),
    )
  }
}

/** `RateLimit.middleware(options)`: bad options fail when the middleware is built, naming the field. */
export const middleware = (options: RateLimitOptions): MiddlewareSpec<Config.ConfigError> =>
  MiddlewareM.make(
    "ratelimit",
    Effect.gen(function* () {
      const { store: _store, estimator: given, ...rest } = options
      const settings = yield* Config.decodeSection(Settings, rest, "rateLimit")
      const estimator = given ?? Tokens.fast
      return make(options, settings, estimator)
    }),
  )

/**
 * `RateLimit.fromService(settings)`: the middleware on the `Limiter` service of the gateway's
 * layer (`Limiter.memory`, or `Limiter.redis` on the shared Redis client), asked for once when
 * the pipeline is built — for programmatic gateways that compose their services with `Layer`.
 */
export const fromService = (
  settings: Settings & { readonly estimator?: Tokens.Estimator | undefined } = {},
): MiddlewareSpec<Config.ConfigError, Limiter> =>
  MiddlewareM.make(
    "ratelimit",
    Effect.flatMap(Limiter, (store) => middleware({ ...settings, store }).build),
  )
