/**
 * The guardrails middleware: which policies apply (global, by model pattern, by key), the
 * request checked on the way in, the answer on the way out — streamed answers as they flow.
 */
import type { Config, GatewayRequest, GatewayResponse, HandlerFn, MiddlewareFn } from "@sluice/core"
import { Errors, type GatewayError } from "@sluice/schema"
import { Chunk, Effect, Either, Stream } from "effect"
import type * as Custom from "./Custom.ts"
import * as Inspect from "./Inspect.ts"
import { type Compiled, compile, type GuardrailsConfig, type PolicySet } from "./Policy.ts"
import { StreamGuard } from "./StreamGuard.ts"

const keyPolicyNames = (request: GatewayRequest): Either.Either<ReadonlyArray<string>, GatewayError> => {
  const raw = request.ctx.principal?.policy?.guardrails
  if (raw === undefined) return Either.right([])
  if (Array.isArray(raw) && raw.every((n) => typeof n === "string")) return Either.right(raw as ReadonlyArray<string>)
  // A key whose policy we cannot read is refused, not waved through.
  return Either.left(new Errors.Internal({ message: "the key's guardrails policy is not a list of policy names" }))
}

const modelOf = (r: GatewayRequest) =>
  r._tag === "Chat" || r._tag === "CountTokens" ? r.chat.model : r._tag === "Embed" ? r.embed.model : undefined

export const fromPolicies = (set: PolicySet): MiddlewareFn => {
  // Policy lists by model (+ key policies): resolved once per distinct combination.
  const cache = new Map<string, ReadonlyArray<Compiled>>()
  const resolve = (request: GatewayRequest): Either.Either<ReadonlyArray<Compiled>, GatewayError> =>
    Either.flatMap(keyPolicyNames(request), (names) => {
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
    })

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
          if (response._tag === "ChatStream") {
            const events = Stream.suspend(() => {
              const guard = new StreamGuard(outputs, set.holdBack, request)
              return response.events.pipe(
                Stream.mapChunksEffect((chunk) =>
                  Effect.map(
                    Effect.forEach(chunk, (e) => guard.push(e)),
                    (lists) => Chunk.unsafeFromArray(lists.flat()),
                  ),
                ),
                Stream.concat(Stream.fromIterableEffect(Effect.suspend(() => guard.end()))),
              )
            })
            return Effect.succeed({ ...response, events })
          }
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
