/**
 * The terminal handler: resolve the model, pick a deployment, call the provider. Assembling a
 * gateway = this terminal + the middleware list, built once at start.
 */
import type { HttpClient } from "@effect/platform"
import { Effect, Either } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import type { ConfigError, GatewayConfig } from "./Config.ts"
import type { GatewayRequest, GatewayResponse, Handler } from "./Handler.ts"
import type { MiddlewareSpec } from "./Middleware.ts"
import * as Pipeline from "./Pipeline.ts"
import type { CallContext, Provider, ProviderType } from "./Provider.ts"
import * as ProviderRegistry from "./ProviderRegistry.ts"
import * as Router from "./Router.ts"

/** Weighted-random pick among a candidate's deployments. */
export const pick = (deployments: ReadonlyArray<Router.Target>, random = Math.random): Router.Target => {
  if (deployments.length === 1) return deployments[0]!
  let total = 0
  for (const d of deployments) total += d.weight
  let r = random() * total
  for (const d of deployments) {
    r -= d.weight
    if (r < 0) return d
  }
  return deployments[deployments.length - 1]!
}

export interface Attempt {
  readonly provider: Provider
  readonly target: Router.Target
  readonly call: CallContext
}

const forwardHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> | undefined => {
  const tp = headers.traceparent
  if (tp === undefined) return undefined
  const ts = headers.tracestate
  return ts === undefined ? { traceparent: tp } : { traceparent: tp, tracestate: ts }
}

/** Resolve the request's model to the first attempt (provider, upstream model, call context). */
export const firstAttempt = (
  router: Router.RouterService,
  registry: ProviderRegistry.Registry,
  model: string,
  request: GatewayRequest,
): Either.Either<Attempt, GatewayError> =>
  Either.flatMap(router.resolve(model), (resolution): Either.Either<Attempt, GatewayError> => {
    const candidate = resolution.candidates[0]
    if (candidate === undefined) {
      return Either.left(new Errors.NotFound({ message: `model "${model}" has no reachable target` }))
    }
    const target = pick(candidate.deployments)
    const provider = registry.get(target.provider)
    if (provider === undefined) {
      return Either.left(new Errors.Internal({ message: `provider "${target.provider}" is not configured` }))
    }
    return Either.right({
      provider,
      target,
      call: { requestId: request.ctx.id, apiKey: target.apiKey, forwardHeaders: forwardHeaders(request.ctx.headers) },
    })
  })

const targetHeader = (a: Attempt) => ({ "x-sluice-target": `${a.target.provider}/${a.target.model}` })

export const terminal =
  (router: Router.RouterService, registry: ProviderRegistry.Registry): Handler =>
  (request): Effect.Effect<GatewayResponse, GatewayError> => {
    switch (request._tag) {
      case "ListModels":
        return Effect.succeed({ _tag: "ListModels", models: router.models, headers: {} })
      case "Chat": {
        const attempt = firstAttempt(router, registry, request.chat.model, request)
        if (Either.isLeft(attempt)) return Effect.fail(attempt.left)
        const a = attempt.right
        const chat = { ...request.chat, model: a.target.model }
        return chat.stream
          ? Effect.succeed({
              _tag: "ChatStream",
              events: a.provider.chatStream(chat, a.call),
              headers: targetHeader(a),
            })
          : Effect.map(a.provider.chat(chat, a.call), (r) => ({ _tag: "Chat", chat: r, headers: targetHeader(a) }))
      }
      case "CountTokens": {
        const attempt = firstAttempt(router, registry, request.chat.model, request)
        if (Either.isLeft(attempt)) return Effect.fail(attempt.left)
        const a = attempt.right
        return Effect.map(a.provider.countTokens({ ...request.chat, model: a.target.model }, a.call), (n) => ({
          _tag: "CountTokens",
          inputTokens: n,
          headers: targetHeader(a),
        }))
      }
      case "Embed": {
        const attempt = firstAttempt(router, registry, request.embed.model, request)
        if (Either.isLeft(attempt)) return Effect.fail(attempt.left)
        const a = attempt.right
        return Effect.map(a.provider.embed({ ...request.embed, model: a.target.model }, a.call), (r) => ({
          _tag: "Embed",
          embed: r,
          headers: targetHeader(a),
        }))
      }
    }
  }

export interface GatewayOptions<Ms extends ReadonlyArray<MiddlewareSpec<any, any>>> {
  readonly config: GatewayConfig
  readonly providerTypes: ReadonlyArray<ProviderType>
  /** Outermost first. */
  readonly middleware: Ms
}

type ErrorOf<M> = M extends MiddlewareSpec<infer E, infer _R> ? E : never
type ContextOf<M> = M extends MiddlewareSpec<infer _E, infer R> ? R : never

/** Build the whole handler: providers from config, the router, the middleware around them. */
export const make = <const Ms extends ReadonlyArray<MiddlewareSpec<any, any>>>(
  options: GatewayOptions<Ms>,
): Effect.Effect<Handler, ConfigError | ErrorOf<Ms[number]>, HttpClient.HttpClient | ContextOf<Ms[number]>> =>
  Effect.gen(function* () {
    const registry = yield* ProviderRegistry.make(options.config, options.providerTypes)
    const router = Router.make(options.config)
    return yield* Pipeline.build(terminal(router, registry), options.middleware)
  })
