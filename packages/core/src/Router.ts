/**
 * Model resolution: a `routes:` rule (first match wins, `*` wildcards), then a `models:` alias,
 * then `provider/model` directly. A Resolution lists candidates in order — the primary target,
 * then fallbacks — each a set of weighted deployments, so retries, fallbacks and balancing can
 * be layered on without changing this interface.
 */
import { Either, type Redacted } from "effect"
import { Errors, type ModelInfo } from "@sluice/schema"
import type { GatewayConfig, ModelEntry, RouteRule } from "./Config.ts"
import * as Echo from "./Echo.ts"
import * as RouteParams from "./RouteParams.ts"
import * as Wildcard from "./Wildcard.ts"

export interface Target {
  readonly provider: string
  readonly model: string
  readonly apiKey?: Redacted.Redacted<string> | undefined
  readonly weight: number
  /** Gateway-side generation parameters for calls to this target (its model's and rule's). */
  readonly params?: RouteParams.Resolved | undefined
}

export interface Candidate {
  /** The id this candidate was resolved from (a models: id or provider/model). */
  readonly id: string
  readonly deployments: ReadonlyArray<Target>
}

export interface Resolution {
  readonly requested: string
  readonly rule?: { readonly index: number; readonly match: string } | undefined
  readonly candidates: ReadonlyArray<Candidate>
  readonly retry?: RouteRule["retry"] | undefined
  readonly timeout?: RouteRule["timeout"] | undefined
}

export interface RouterService {
  readonly resolve: (model: string) => Either.Either<Resolution, Errors.NotFound>
  /** The model ids this gateway routes by name (models: entries), for model listings. */
  readonly models: ReadonlyArray<ModelInfo>
}

const targetsOf = (entry: ModelEntry, rule?: RouteRule): ReadonlyArray<Target> => {
  const params = RouteParams.resolve(entry, rule)
  return entry.deployments !== undefined
    ? entry.deployments.map((d) => ({
        provider: d.provider,
        model: d.model,
        apiKey: d.apiKey,
        weight: d.weight ?? 1,
        params,
      }))
    : [{ provider: entry.provider!, model: entry.model!, apiKey: entry.apiKey, weight: 1, params }]
}

export const make = (config: GatewayConfig): RouterService => {
  const providers = new Set(Object.keys(config.providers))
  const aliases = new Map(Object.entries(config.models).map(([id, entry]) => [id, targetsOf(entry)]))
  const rules = config.routes.map((rule, index) => ({ rule, index, test: Wildcard.compile(rule.match) }))

  /** A models: id, or provider/model for a configured provider; a rule's parameters on top. */
  const direct = (id: string, rule?: RouteRule): Candidate | undefined => {
    const entry = config.models[id]
    if (entry !== undefined) {
      const withRule = rule?.params !== undefined || rule?.forceParams !== undefined
      return { id, deployments: withRule ? targetsOf(entry, rule) : aliases.get(id)! }
    }
    const slash = id.indexOf("/")
    if (slash > 0 && slash < id.length - 1) {
      const provider = id.slice(0, slash)
      if (providers.has(provider))
        return {
          id,
          deployments: [
            { provider, model: id.slice(slash + 1), weight: 1, params: RouteParams.resolve(undefined, rule) },
          ],
        }
    }
    return undefined
  }
  // A rule's candidates do not depend on the request: resolve them once.
  const ruleCandidates = rules.map(({ rule }) =>
    [rule.to, ...(rule.fallbacks ?? [])].flatMap((id) => {
      const c = direct(id, rule)
      return c === undefined ? [] : [c]
    }),
  )

  const resolve = (model: string): Either.Either<Resolution, Errors.NotFound> => {
    for (const { rule, index, test } of rules) {
      if (!test(model)) continue
      const candidates = ruleCandidates[index]!
      return Either.right({
        requested: model,
        rule: { index, match: rule.match },
        candidates,
        retry: rule.retry,
        timeout: rule.timeout,
      })
    }
    const c = direct(model)
    if (c !== undefined) return Either.right({ requested: model, candidates: [c] })
    return Either.left(new Errors.NotFound({ message: `model "${Echo.cap(model)}" is not routed by this gateway` }))
  }

  const models: ReadonlyArray<ModelInfo> = Object.entries(config.models).map(([id, entry]) => {
    const first = targetsOf(entry)[0]!
    const info: { -readonly [K in keyof ModelInfo]: ModelInfo[K] } = { id, provider: first.provider }
    if (entry.displayName !== undefined) info.displayName = entry.displayName
    if (entry.description !== undefined) info.description = entry.description
    if (entry.inputTokenLimit !== undefined) info.inputTokenLimit = entry.inputTokenLimit
    if (entry.outputTokenLimit !== undefined) info.outputTokenLimit = entry.outputTokenLimit
    return info
  })

  return { resolve, models }
}
