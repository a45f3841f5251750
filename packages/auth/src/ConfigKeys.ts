/**
 * The `keys:`, `auth:`, `admin:` and `redis:` config sections as auth reads them. Plaintext keys
 * are hashed as they are decoded; no error message ever contains a key.
 */
import { Config } from "@sluice/core"
import { Either, ParseResult, Redacted, Schema } from "effect"
import * as Credentials from "./Credentials.ts"
import { sha256 } from "./Hash.ts"
import { type KeyRecord, policyOf, Timestamp } from "./KeyRecord.ts"

export const minKeyLength = 16

/** A secret string: wrong input is reported without the value. */
export const Secret = (what: string) =>
  Schema.transformOrFail(Schema.Unknown, Schema.RedactedFromSelf(Schema.String), {
    strict: true,
    decode: (u, _, ast) =>
      typeof u === "string" && u.length >= minKeyLength
        ? ParseResult.succeed(Redacted.make(u))
        : ParseResult.fail(
            new ParseResult.Type(ast, undefined, `expected ${what} of at least ${minKeyLength} characters`),
          ),
    encode: (r) => ParseResult.succeed(Redacted.value(r)),
  })

const HexHash = Schema.String.pipe(
  Schema.filter((s) => /^[0-9a-fA-F]{64}$/.test(s) || "expected the hex SHA-256 of the key (64 characters)"),
)

/** A provider credential: any non-empty string, reported without its value. */
export const ProviderCredential = Schema.transformOrFail(Schema.Unknown, Schema.RedactedFromSelf(Schema.String), {
  strict: true,
  decode: (u, _, ast) =>
    typeof u === "string" && u.trim() !== "" && u.length <= 4096
      ? ParseResult.succeed(Redacted.make(u.trim()))
      : ParseResult.fail(new ParseResult.Type(ast, undefined, "expected a provider credential (a non-empty string)")),
  encode: (r) => ParseResult.succeed(Redacted.value(r)),
})

/** An encryption key for provider credentials at rest: 32 bytes, hex or base64. */
const CredentialKeyValue = Schema.declare(
  (u): u is Credentials.CredentialKey =>
    typeof u === "object" && u !== null && "id" in u && "key" in u && Buffer.isBuffer(u.key),
)

export const CredentialKeySchema = Schema.transformOrFail(Schema.Unknown, CredentialKeyValue, {
  strict: true,
  decode: (u, _, ast) => {
    const parsed = typeof u === "string" ? Credentials.parseKey(u) : Either.left("expected a string")
    return Either.isRight(parsed)
      ? ParseResult.succeed(parsed.right)
      : ParseResult.fail(new ParseResult.Type(ast, undefined, parsed.left))
  },
  encode: (k) => ParseResult.succeed(k.key.toString("hex")),
})

/**
 * A key in `keys:`. Besides these fields a key carries policy fields (`rateLimit`, `budget`,
 * `guardrails`, a plugin's own), each validated by the schema of the middleware that owns it
 * when the config is built (`keys[i].rateLimit.rpm: …`); see KeyPolicy in @sluice/core.
 */
const configKeyFields = {
  name: Schema.NonEmptyTrimmedString,
  /** Used for rate-limit buckets and spend ledgers; defaults to the name. */
  id: Schema.optional(
    Schema.NonEmptyTrimmedString.pipe(
      Schema.filter(
        (s) => !s.startsWith("key_") || "ids starting with key_ are reserved for keys made through the admin API",
      ),
    ),
  ),
  key: Schema.optional(Secret("a key")),
  keyHash: Schema.optional(HexHash),
  models: Schema.optional(Schema.Array(Schema.NonEmptyTrimmedString)),
  expiresAt: Schema.optional(Timestamp),
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** The key's own provider credentials by provider name (`${ENV}` references), used instead of the provider's. */
  providerKeys: Schema.optional(Schema.Record({ key: Schema.String, value: ProviderCredential })),
}

/** The fields auth reads itself in a config key; any other is a policy field. */
export const configKeyOwnFields: ReadonlySet<string> = new Set(Object.keys(configKeyFields))

export const ConfigKey = Schema.Struct(
  configKeyFields,
  // Policy fields: each owner's schema decodes its own (auth's plugin, with the generation's fields).
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
).pipe(Schema.filter((k) => (k.key === undefined) !== (k.keyHash === undefined) || "give either key or keyHash"))
export type ConfigKey = typeof ConfigKey.Type

export const KeysSection = Schema.Array(ConfigKey)

export const AuthSection = Schema.Struct({
  /** Where keys made through the admin API live: this process (memory), or Redis or Postgres (shared by a fleet). */
  store: Schema.optionalWith(Schema.Literal("memory", "redis", "postgres"), { default: () => "memory" as const }),
  /** How long an instance trusts a cached key without hearing of a change (Redis store). */
  cacheTtl: Schema.optionalWith(Config.Duration, { default: () => 30_000 }),
  /** Bound on each key-store call; past it the request is refused (503), never held. */
  timeout: Schema.optionalWith(Config.Duration, { default: () => 500 }),
  /**
   * Keys that encrypt per-key provider credentials at rest (32 bytes, hex or base64): the first
   * seals new ones, every one opens; put a new key first and keep the old after it to rotate.
   */
  credentialKeys: Schema.optional(Schema.Array(CredentialKeySchema)),
})
export type AuthSection = typeof AuthSection.Type

export const AdminSection = Schema.Struct({
  key: Schema.optional(Secret("an admin key")),
  keyHash: Schema.optional(HexHash),
}).pipe(Schema.filter((a) => (a.key === undefined) !== (a.keyHash === undefined) || "give either key or keyHash"))

/** Shared with other packages: unknown fields are theirs, not an error here. */
export const RedisSection = Schema.Struct(
  {
    url: Schema.String.pipe(Schema.filter((s) => /^rediss?:\/\/./.test(s) || "expected a redis:// or rediss:// URL")),
    prefix: Schema.optionalWith(Schema.String, { default: () => "sluice:" }),
    /** The connections' name in `CLIENT LIST` (the subscriber adds `:sub`). */
    clientName: Schema.optionalWith(
      Schema.String.pipe(
        Schema.filter((s) => /^[!-~]{1,64}$/.test(s) || "expected 1-64 visible characters, no spaces"),
      ),
      { default: () => "sluice" },
    ),
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

/** A config key's policy fields as written (never its key or anything else auth reads). */
export const keyPolicyOf = (k: ConfigKey): Record<string, unknown> => policyOf(k, configKeyOwnFields)

/** A config key as a record; its provider credentials sealed with `keys` (see Credentials.ts). */
export const toRecord = (k: ConfigKey, keys: ReadonlyArray<Credentials.CredentialKey> = []): KeyRecord => {
  const id = k.id ?? k.name
  const providerKeys =
    k.providerKeys === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(k.providerKeys).map(([provider, secret]) => [
            provider,
            Credentials.seal(keys, id, provider, Redacted.value(secret)),
          ]),
        )
  const record: KeyRecord = {
    ...keyPolicyOf(k),
    id,
    name: k.name,
    keyHash: k.key !== undefined ? sha256(Redacted.value(k.key)) : k.keyHash!.toLowerCase(),
    enabled: k.enabled,
    source: "config",
    ...(k.key !== undefined ? { hint: `…${Redacted.value(k.key).slice(-4)}` } : {}),
    ...(k.models !== undefined ? { models: k.models } : {}),
    ...(k.expiresAt !== undefined ? { expiresAt: new Date(k.expiresAt).toISOString() } : {}),
    ...(providerKeys !== undefined ? { providerKeys } : {}),
  }
  return record
}
