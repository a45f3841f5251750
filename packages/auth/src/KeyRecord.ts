/**
 * A virtual key as stored (config, Redis, Postgres): its hash, never its plaintext, the fields
 * auth itself reads, and the key's policy fields as written (`rateLimit`, `budget`,
 * `guardrails`, a plugin's own). Each policy field belongs to the middleware that enforces it,
 * which brings its schema (`KeyPolicy.Field`); auth decodes them once per record into the
 * principal (`ctx.principal.policy`), so a store keeps fields this process does not know.
 */
import { Schema } from "effect"
import { KeyPolicy, type Principal } from "@sluice/core"
import { isSha256Hex } from "./Hash.ts"

/** An ISO 8601 timestamp. */
export const Timestamp = Schema.String.pipe(
  Schema.filter((s) => !Number.isNaN(Date.parse(s)) || "expected an ISO 8601 date, e.g. 2026-01-31T00:00:00Z"),
)

export const KeyHash = Schema.String.pipe(
  Schema.filter((s) => isSha256Hex(s) || "expected a lower-case hex SHA-256 digest (64 characters)"),
)

const fields = {
  id: Schema.String,
  name: Schema.String,
  keyHash: KeyHash,
  /** A few trailing characters of the key, so people can tell keys apart; not enough to guess. */
  hint: Schema.optional(Schema.String),
  models: Schema.optional(Schema.Array(Schema.String)),
  expiresAt: Schema.optional(Timestamp),
  enabled: Schema.Boolean,
  createdAt: Schema.optional(Timestamp),
  revokedAt: Schema.optional(Timestamp),
  /** Where the key is defined: the config file (read-only) or the admin API's store. */
  source: Schema.Literal("config", "store"),
  /** The key's own provider credentials by provider name, sealed (see Credentials.ts); never shown. */
  providerKeys: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
}

/** The fields auth reads itself; every other field of a key is a policy field. */
export const ownFields: ReadonlySet<string> = new Set(Object.keys(fields))

/** Policy fields ride along as written (each middleware's schema decodes its own). */
export const KeyRecord = Schema.Struct(fields, Schema.Record({ key: Schema.String, value: Schema.Unknown }))
export type KeyRecord = typeof KeyRecord.Type

/** A key's policy fields as written (everything but auth's own fields). */
export const policyOf = (
  r: Readonly<Record<string, unknown>>,
  own: ReadonlySet<string> = ownFields,
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r)) if (!own.has(k) && v !== undefined) out[k] = v
  return out
}

/** The key as the admin API shows it: everything but the hash. */
export const publicView = (r: KeyRecord) => {
  const { keyHash: _hash, providerKeys, ...rest } = r
  // Which providers have a credential of the key's own, never the credentials themselves.
  return providerKeys === undefined ? rest : { ...rest, providerKeys: Object.keys(providerKeys).sort() }
}

/** What the rest of the pipeline sees of a verified key, its policy decoded (see Auth.ts). */
export const toPrincipal = (r: KeyRecord, policy: KeyPolicy.Values = KeyPolicy.empty): Principal => ({
  id: r.id,
  name: r.name,
  allowedModels: r.models,
  policy,
})
