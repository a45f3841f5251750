/**
 * The guardrails middleware: which policies apply (global, by model pattern, by key), the
 * request checked on the way in, the answer on the way out — streamed answers as they flow.
 */
import {
  Config,
  type GatewayRequest,
  type GatewayResponse,
  type HandlerFn,
  Middleware as MiddlewareM,
  type MiddlewareFn,
  type MiddlewareSpec,
} from "@sluice/core"
import { Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import type * as Custom from "./Custom.ts"
import * as Inspect from "./Inspect.ts"
import {
  type Compiled,
  compile,
  GuardrailsConfig,
  type GuardrailsConfigInput,
  keyPolicy,
  type PolicySet,
} from "./Policy.ts"
import { StreamGuard } from "./StreamGuard.ts"

const none: ReadonlyArray<string> = []

const modelOf = (r: GatewayRequest) =>
  r._tag === "Chat" || r._tag === "CountTokens" ? r.chat.model : r._tag === "Embed" ? r.embed.model : undefined

/**
 * The stream with output policies applied. Events released before a violation are delivered
 * (the client sees the answer cut, as the ingress renders it), then the stream fails and
 * stops pulling from upstream.
 */
const guarded = (
  events: Stream.Stream<StreamEvent, GatewayError>,
  policies: ReadonlyArray<Compiled>,
  hold: { readonly holdBack: number; readonly holdMax: number },
  request: GatewayRequest,
): Stream.Stream<StreamEvent, GatewayError> =>
  Stream.fromPull(
    Effect.map(Stream.toPull(events), (pull) => {
      const guard = new StreamGuard(policies, hold, request)
      let failed: GatewayError | undefined
      let ended = false
      const run = (input: Iterable<StreamEvent>) =>
        Effect.gen(function* () {
          const out: Array<StreamEvent> = []
          for (const e of input) {
            const r = yield* Effect.either(guard.push(e))
            if (Either.isLeft(r)) {
              failed = r.left
              break
            }
            for (const x of r.right) out.push(x)
          }
          if (out.length === 0 && failed !== undefined) return yield* Effect.fail(Option.some(failed))
          return Chunk.unsafeFromArray(out)
        })
      return Effect.suspend((): Effect.Effect<Chunk.Chunk<StreamEvent>, Option.Option<GatewayError>> => {
        if (failed !== undefined) return Effect.fail(Option.some(failed))
        if (ended) return Effect.fail(Option.none())
        return Effect.matchEffect(pull, {
          onSuccess: run,
          onFailure: (e) => {
            if (Option.isSome(e)) return Effect.fail(e)
            ended = true
            return Effect.mapError(
              Effect.map(guard.end(), (rest) => Chunk.unsafeFromArray(rest)),
              (v) => Option.some<GatewayError>(v),
            )
          },
        })
      })
    }),
  )

export const fromPolicies = (set: PolicySet): MiddlewareFn => {
  // Policy lists by model (+ key policies): resolved once per distinct combination.
  const cache = new Map<string, ReadonlyArray<Compiled>>()
  const resolve = (request: GatewayRequest): Either.Either<ReadonlyArray<Compiled>, GatewayError> => {
    // The key's own policy names, decoded (and checked against this config) when it was loaded.
    const names = keyPolicy.get(request.ctx.principal) ?? none
    const model = modelOf(request) ?? ""
    const cacheKey = names.length === 0 ? model : `${model}\u0000${names.join("\u0000")}`
    const hit = cache.get(cacheKey)
    if (hit !== undefined) return Either.right(hit)
    const list: Array<Compiled> = [...set.global]
    for (const route of set.routes) if (route.match(model)) list.push(...route.policies)
    for (const n of names) {
      const p = set.policies.get(n)
      if (p === undefined)
        return Either.left(new Errors.Internal({ message: `the key names an unknown guardrail policy "${n}"` }))
      list.push(p)
    }
    const unique = [...new Set(list)]
    if (cache.size >= 1024) cache.clear()
    cache.set(cacheKey, unique)
    return Either.right(unique)
  }

  return (next: HandlerFn): HandlerFn =>
    (request) => {
      if (request._tag === "ListModels") return next(request)
      const resolved = resolve(request)
      if (Either.isLeft(resolved)) return Effect.fail(resolved.left)
      const policies = resolved.right
      if (policies.length === 0) return next(request)
      const outputs = Inspect.forDirection(policies, "output")
      return Inspect.input(request, policies).pipe(
        Effect.flatMap(next),
        Effect.flatMap((response): Effect.Effect<GatewayResponse, GatewayError> => {
          if (outputs.length === 0) return Effect.succeed(response)
          if (response._tag === "Chat")
            return Effect.map(Inspect.output(response.chat, outputs, request), (chat) => ({ ...response, chat }))
          if (response._tag === "ChatStream")
            return Effect.succeed({ ...response, events: guarded(response.events, outputs, set, request) })
          return Effect.succeed(response)
        }),
      )
    }
}

export interface Options {
  readonly config: GuardrailsConfig
  /** Custom checks by name, referenced from policies' `custom:`. */
  readonly custom?: Custom.Registry | undefined
}

/** Build the middleware, validating the config (bad config fails here, naming the path). */
export const make = (options: Options): Effect.Effect<MiddlewareFn, Config.ConfigError> =>
  Effect.map(compile(options.config, options.custom ?? {}), fromPolicies)

/**
 * `Guardrails.Middleware.middleware({ config })`: the middleware as a pipeline entry for
 * programmatic gateways; `config` is written as in YAML and validated when the pipeline is built.
 */
export const middleware = (options: {
  readonly config: GuardrailsConfigInput
  readonly custom?: Custom.Registry | undefined
}): MiddlewareSpec<Config.ConfigError> =>
  MiddlewareM.make(
    "guardrails",
    Effect.flatMap(Config.decodeSection(GuardrailsConfig, options.config, "guardrails"), (config) =>
      make({ config, custom: options.custom }),
    ),
  )
