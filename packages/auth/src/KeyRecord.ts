/**
 * A virtual key as stored (config or Redis): its hash, never its plaintext, and the policy the
 * middleware after auth reads from `ctx.principal.policy` (rate limits, budget, guardrails).
 */
import { Schema } from "effect"
import type { Principal } from "@sluice/core"
import { isSha256Hex } from "./Hash.ts"

export const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())

export const RateLimitPolicy = Schema.Struct({
  /** Requests per minute. */
  rpm: Schema.optional(PositiveInt),
  /** Tokens (input + output) per minute. */
  tpm: Schema.optional(PositiveInt),
})
export type RateLimitPolicy = typeof RateLimitPolicy.Type

export const BudgetPeriod = Schema.Literal("total", "daily", "weekly", "monthly")
export type BudgetPeriod = typeof BudgetPeriod.Type

export const BudgetPolicy = Schema.Struct({
  usd: Schema.Number.pipe(Schema.nonNegative()),
  /** When spend starts again from zero (UTC calendar); `total` never resets. */
  period: Schema.optionalWith(BudgetPeriod, { default: () => "total" as const }),
})
export type BudgetPolicy = typeof BudgetPolicy.Type

/** An ISO 8601 timestamp. */
export const Timestamp = Schema.String.pipe(
  Schema.filter((s) => !Number.isNaN(Date.parse(s)) || "expected an ISO 8601 date, e.g. 2026-01-31T00:00:00Z"),
)

export const KeyHash = Schema.String.pipe(
  Schema.filter((s) => isSha256Hex(s) || "expected a lower-case hex SHA-256 digest (64 characters)"),
)

export const KeyRecord = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  keyHash: KeyHash,
  /** A few trailing characters of the key, so people can tell keys apart; not enough to guess. */
  hint: Schema.optional(Schema.String),
  models: Schema.optional(Schema.Array(Schema.String)),
  rateLimit: Schema.optional(RateLimitPolicy),
  budget: Schema.optional(BudgetPolicy),
  /** Names of `guardrails:` policies that apply to this key's requests too. */
  guardrails: Schema.optional(Schema.Array(Schema.String)),
  expiresAt: Schema.optional(Timestamp),
  enabled: Schema.Boolean,
  createdAt: Schema.optional(Timestamp),
  revokedAt: Schema.optional(Timestamp),
  /** Where the key is defined: the config file (read-only) or the admin API's store. */
  source: Schema.Literal("config", "store"),
  /** The key's own provider credentials by provider name, sealed (see Credentials.ts); never shown. */
  providerKeys: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
})
export type KeyRecord = typeof KeyRecord.Type

/** The key as the admin API shows it: everything but the hash. */
export const publicView = (r: KeyRecord) => {
  const { keyHash: _hash, providerKeys, ...rest } = r
  // Which providers have a credential of the key's own, never the credentials themselves.
  return providerKeys === undefined ? rest : { ...rest, providerKeys: Object.keys(providerKeys).sort() }
}

/** What the rest of the pipeline sees of a verified key. */
export const toPrincipal = (r: KeyRecord): Principal => {
  const policy: Record<string, unknown> = {}
  if (r.rateLimit !== undefined) policy.rateLimit = r.rateLimit
  if (r.budget !== undefined) policy.budget = r.budget
  if (r.guardrails !== undefined) policy.guardrails = r.guardrails
  return { id: r.id, name: r.name, allowedModels: r.models, policy }
}
