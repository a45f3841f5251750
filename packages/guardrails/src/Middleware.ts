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
import { Channel, Chunk, Effect, Either, Stream } from "effect"
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

type Stage = Channel.Channel<
  Chunk.Chunk<StreamEvent>,
  Chunk.Chunk<StreamEvent>,
  GatewayError,
  GatewayError,
  unknown,
  unknown
>

/**
 * The stream with output policies applied. Events released before a violation are delivered
 * (the client sees the answer cut, as the ingress renders it), then the stream fails and
 * stops pulling from upstream.
 *
 * One stage, a chunk at a time in plain JS (as core's Chunked stages): an Effect runs only
 * when released text must pass a custom check first.
 */
const guarded = (
  events: Stream.Stream<StreamEvent, GatewayError>,
  policies: ReadonlyArray<Compiled>,
  hold: { readonly holdBack: number; readonly holdMax: number },
  request: GatewayRequest,
): Stream.Stream<StreamEvent, GatewayError> =>
  Stream.suspend(() => {
    const guard = new StreamGuard(policies, hold, request)
    /** Send `out` (if any), then fail with `error` or go on with `next`. */
    const emit = (out: Array<StreamEvent>, error: GatewayError | undefined, next: Stage): Stage => {
      const then = error === undefined ? next : Channel.fail(error)
      return out.length === 0 ? then : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), then)
    }
    /**
     * What one event released (`out` from `mark` on) is sent only once its custom checks pass:
     * a failing one drops it and names the violation, ahead of the event's own `error`.
     */
    const checked = (
      checks: ReadonlyArray<string>,
      out: Array<StreamEvent>,
      mark: number,
      error: GatewayError | undefined,
      next: () => Stage,
    ): Stage =>
      Channel.unwrap(
        Effect.match(guard.check(checks), {
          onFailure: (violation) => {
            out.length = mark
            return emit(out, violation, loop)
          },
          onSuccess: () => (error === undefined ? next() : emit(out, error, loop)),
        }),
      )
    const feed = (input: ReadonlyArray<StreamEvent>, from: number, out: Array<StreamEvent>): Stage => {
      for (let i = from; i < input.length; i++) {
        const mark = out.length
        const error = guard.push(input[i]!, out)
        const checks = guard.takeChecks()
        if (checks.length > 0) return checked(checks, out, mark, error, () => feed(input, i + 1, out))
        if (error !== undefined) return emit(out, error, loop)
      }
      return emit(out, undefined, loop)
    }
    const loop: Stage = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<StreamEvent>) => feed(Chunk.toReadonlyArray(input), 0, []),
      onFailure: (cause) => Channel.failCause(cause),
      onDone: () => {
        const out: Array<StreamEvent> = []
        const error = guard.end(out)
        const checks = guard.takeChecks()
        if (checks.length > 0) return checked(checks, out, 0, error, () => emit(out, undefined, Channel.void))
        return emit(out, error, Channel.void)
      },
    })
    return Stream.pipeThroughChannel(events, loop)
  })

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
