/**
 * Gateway-side generation parameters, set on a `models:` entry or a `routes:` rule (as Kong's
 * model options are): `params` are defaults the client's own values override; `forceParams` win
 * over the client. A rule's values win over its model's, and both are applied per attempt, so a
 * fallback to another model gets that model's parameters.
 *
 *   models:
 *     gpt-4o: { provider: openai, model: gpt-4o, params: { temperature: 0.2 } }
 *   routes:
 *     - { match: "gemini-*", to: claude-sonnet, forceParams: { maxTokens: 4096 } }
 */
import { Schema } from "effect"
import type { ChatRequest } from "@sluice/schema"
import * as Bounds from "./Params.ts"

export const Params = Schema.Struct({
  temperature: Schema.optional(Bounds.Temperature(2)),
  topP: Schema.optional(Bounds.TopP),
  topK: Schema.optional(Bounds.TopK),
  maxTokens: Schema.optional(Bounds.TokenLimit),
  stop: Schema.optional(Schema.Array(Schema.String).pipe(Schema.maxItems(16))),
  seed: Schema.optional(Schema.Number.pipe(Schema.int())),
  presencePenalty: Schema.optional(Bounds.Penalty),
  frequencyPenalty: Schema.optional(Bounds.Penalty),
})
export type Params = typeof Params.Type

/** What applies to one target: defaults under the client's values, overrides over them. */
export interface Resolved {
  readonly defaults?: Params | undefined
  readonly overrides?: Params | undefined
}

interface Source {
  readonly params?: Params | undefined
  readonly forceParams?: Params | undefined
}

const merge = (a: Params | undefined, b: Params | undefined): Params | undefined =>
  a === undefined ? b : b === undefined ? a : { ...a, ...b }

/** A model entry's parameters, then a route rule's over them; undefined when neither sets any. */
export const resolve = (model: Source | undefined, rule: Source | undefined): Resolved | undefined => {
  const defaults = merge(model?.params, rule?.params)
  const overrides = merge(model?.forceParams, rule?.forceParams)
  return defaults === undefined && overrides === undefined ? undefined : { defaults, overrides }
}

const keys = [
  "temperature",
  "topP",
  "topK",
  "maxTokens",
  "stop",
  "seed",
  "presencePenalty",
  "frequencyPenalty",
] as const

/** The request with the target's parameters applied (the same object when there are none). */
export const apply = <R extends ChatRequest>(request: R, resolved: Resolved | undefined): R => {
  if (resolved === undefined) return request
  const out: Record<string, unknown> = { ...request }
  for (const k of keys) {
    const forced = resolved.overrides?.[k]
    if (forced !== undefined) out[k] = forced
    else if (out[k] === undefined && resolved.defaults?.[k] !== undefined) out[k] = resolved.defaults[k]
  }
  return out as R
}
