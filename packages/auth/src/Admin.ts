/**
 * The admin HTTP API under `/admin`, guarded by the admin key: create a key (its plaintext is
 * returned once and never stored), list, read, update, revoke and rotate. Keys from the config
 * file are listed but read-only. See packages/auth/README.md.
 */
import { type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Either, ParseResult, Schema } from "effect"
import { Echo, type Ingress, KeyPolicy } from "@sluice/core"
import * as AdminGuard from "./AdminGuard.ts"
import * as Credentials from "./Credentials.ts"
import { generateId, generateKey, sha256 } from "./Hash.ts"
import { type KeyRecord, policyOf, publicView, Timestamp } from "./KeyRecord.ts"
import type { KeyStore } from "./KeyStore.ts"

export interface AdminOptions {
  readonly store: KeyStore
  /** SHA-256 hex of the admin key. */
  readonly adminKeyHash: string
  /**
   * The key policy fields of the installed middleware (`rateLimit`, `budget`, `guardrails`, a
   * plugin's own): a body's policy fields are decoded with it, a bad one is a 400 naming it.
   * None by default (then every policy field is refused).
   */
  readonly policies?: KeyPolicy.Decoder | undefined
  readonly now?: (() => number) | undefined
  /** Keys that seal per-key provider credentials; without them the API refuses to store any. */
  readonly credentialKeys?: ReadonlyArray<Credentials.CredentialKey> | undefined
  /** The gateway's provider names (a credential is for one of them). */
  readonly providers?: ReadonlyArray<string> | undefined
}

const maxBody = 64 * 1024

const Patterns = Schema.Array(Schema.NonEmptyTrimmedString)

/** Provider name → the key's own credential for it (write-only: never shown again). */
const ProviderKeys = Schema.Record({
  key: Schema.String,
  value: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096)),
})

/** Any other field of a body is a policy field, decoded by its owner's schema (see `policies`). */
const PolicyFields = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const createFields = {
  name: Schema.NonEmptyTrimmedString,
  models: Schema.optional(Patterns),
  expiresAt: Schema.optional(Timestamp),
  enabled: Schema.optional(Schema.Boolean),
  providerKeys: Schema.optional(ProviderKeys),
}
const createOwn: ReadonlySet<string> = new Set(Object.keys(createFields))
const CreateBody = Schema.Struct(createFields, PolicyFields)

/** `null` clears a field (a policy field too). */
const updateFields = {
  name: Schema.optional(Schema.NonEmptyTrimmedString),
  models: Schema.optional(Schema.NullOr(Patterns)),
  expiresAt: Schema.optional(Schema.NullOr(Timestamp)),
  enabled: Schema.optional(Schema.Boolean),
  /** Set or replace credentials by provider; `null` for a provider removes its credential. */
  providerKeys: Schema.optional(
    Schema.Record({
      key: Schema.String,
      value: Schema.NullOr(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096))),
    }),
  ),
}
const updateOwn: ReadonlySet<string> = new Set(Object.keys(updateFields))
const UpdateBody = Schema.Struct(updateFields, PolicyFields)

type Reply = HttpServerResponse.HttpServerResponse

const json = (status: number, body: unknown, secret = false): Reply =>
  HttpServerResponse.unsafeJson(body, { status, headers: secret ? { "cache-control": "no-store" } : {} })

const fail = (status: number, type: string, message: string): Reply => json(status, { error: { type, message } })

const hint = (key: string) => `…${key.slice(-4)}`

const readBody = <A, I>(
  request: HttpServerRequest.HttpServerRequest,
  schema: Schema.Schema<A, I>,
): Effect.Effect<Either.Either<A, Reply>> =>
  Effect.gen(function* () {
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > maxBody) return Either.left(fail(413, "invalid_request_error", `body larger than ${maxBody} bytes`))
    const text = yield* Effect.either(request.text)
    if (Either.isLeft(text)) return Either.left(fail(400, "invalid_request_error", "cannot read the request body"))
    if (text.right.length > maxBody)
      return Either.left(fail(413, "invalid_request_error", `body larger than ${maxBody} bytes`))
    let raw: unknown
    try {
      raw = text.right.trim() === "" ? {} : JSON.parse(text.right)
    } catch {
      return Either.left(fail(400, "invalid_request_error", "the body is not valid JSON"))
    }
    const decoded = Schema.decodeUnknownEither(schema, { onExcessProperty: "error" })(raw)
    if (Either.isLeft(decoded)) {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
      const path = issue?.path.join(".") ?? ""
      return Either.left(
        fail(400, "invalid_request_error", `${path === "" ? "" : `${path}: `}${issue?.message ?? "invalid body"}`),
      )
    }
    return Either.right(decoded.right)
  })

const storeDown = fail(503, "unavailable", "the key store is unavailable")

export const routes = (options: AdminOptions): ReadonlyArray<Ingress.PlainRoute> => {
  const { store } = options
  const authorized = AdminGuard.make(options.adminKeyHash)
  const now = () => new Date((options.now ?? Date.now)()).toISOString()

  const guarded =
    (
      handle: (
        request: HttpServerRequest.HttpServerRequest,
        params: Readonly<Record<string, string>>,
      ) => Effect.Effect<Reply, unknown>,
    ) =>
    (request: HttpServerRequest.HttpServerRequest, params: Readonly<Record<string, string>>): Effect.Effect<Reply> =>
      authorized(request.headers)
        ? handle(request, params).pipe(
            // A store failure (or anything else) is a 503, logged without request contents.
            Effect.catchAllCause((cause) => Effect.as(Effect.logError("admin API failed", cause), storeDown)),
          )
        : Effect.succeed(fail(401, "authentication_error", "missing or invalid admin key"))

  /** A stored (not config) key, live or not; otherwise the reply that explains why not. */
  const mutable = (id: string) =>
    Effect.map(store.get(id), (record): Either.Either<KeyRecord, Reply> => {
      if (record === undefined) return Either.left(fail(404, "not_found_error", `no key with id "${Echo.cap(id)}"`))
      if (record.source === "config")
        return Either.left(
          fail(409, "conflict", `key "${Echo.cap(id)}" is defined in the config file; change it there`),
        )
      if (record.revokedAt !== undefined) return Either.left(fail(409, "conflict", `key "${Echo.cap(id)}" is revoked`))
      return Either.right(record)
    })

  const writable = store.writable

  const credentialKeys = options.credentialKeys ?? []
  const providers = new Set(options.providers ?? [])

  /**
   * The record's sealed credentials after applying `changes` (a value sets, `null` removes), or
   * the reply that says why not. Nothing is sealed without a configured credential key.
   */
  const sealed = (
    id: string,
    current: KeyRecord["providerKeys"],
    changes: Readonly<Record<string, string | null>> | undefined,
  ): Either.Either<KeyRecord["providerKeys"], Reply> => {
    if (changes === undefined) return Either.right(current)
    const next: Record<string, string> = { ...current }
    for (const [provider, value] of Object.entries(changes)) {
      if (!providers.has(provider))
        return Either.left(
          fail(400, "invalid_request_error", `providerKeys.${Echo.cap(provider, 64)}: not a provider of this gateway`),
        )
      if (value === null) {
        delete next[provider]
        continue
      }
      if (credentialKeys.length === 0)
        return Either.left(
          fail(
            400,
            "invalid_request_error",
            "providerKeys: this gateway has no auth.credentialKeys to encrypt provider credentials with",
          ),
        )
      next[provider] = Credentials.seal(credentialKeys, id, provider, value)
    }
    return Either.right(Object.keys(next).length === 0 ? undefined : next)
  }

  const withProviderKeys = (record: KeyRecord, providerKeys: KeyRecord["providerKeys"]): KeyRecord => {
    const { providerKeys: _old, ...rest } = record
    return providerKeys === undefined ? rest : { ...rest, providerKeys }
  }

  const policies = options.policies ?? KeyPolicy.decoder(undefined, [])

  /**
   * A body's policy fields decoded by their owners' schemas, written back as a store keeps them
   * (defaults filled in); or the 400 that names the first bad field. `null`s are left to the caller.
   */
  const policyFields = (
    raw: Readonly<Record<string, unknown>>,
  ): Either.Either<Readonly<Record<string, unknown>>, Reply> => {
    const given: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(raw)) {
      if (v !== null) given[k] = v
      else if (!policies.names.has(k))
        return Either.left(fail(400, "invalid_request_error", `${Echo.cap(k, 64)}: not a key policy field`))
    }
    const decoded = policies.decode(given)
    if (Either.isLeft(decoded)) {
      const issue = decoded.left[0]!
      // The path is a field of the body (capped: a caller's own field name may be echoed).
      return Either.left(
        fail(400, "invalid_request_error", `${Echo.cap(issue.path, 128)}: ${Echo.capDecodeMessage(issue.message)}`),
      )
    }
    return Either.right(policies.encode(decoded.right))
  }

  const create = guarded((request) =>
    Effect.gen(function* () {
      if (writable === undefined) return fail(405, "invalid_request_error", "this gateway's key store is read-only")
      const body = yield* readBody(request, CreateBody)
      if (Either.isLeft(body)) return body.left
      const b = body.right
      const policy = policyFields(policyOf(b, createOwn))
      if (Either.isLeft(policy)) return policy.left
      const key = generateKey()
      const id = generateId()
      const providerKeys = sealed(id, undefined, b.providerKeys)
      if (Either.isLeft(providerKeys)) return providerKeys.left
      const record: KeyRecord = {
        ...policy.right,
        id,
        name: b.name,
        keyHash: sha256(key),
        hint: hint(key),
        ...(b.models !== undefined ? { models: b.models } : {}),
        ...(b.expiresAt !== undefined ? { expiresAt: new Date(b.expiresAt).toISOString() } : {}),
        enabled: b.enabled ?? true,
        createdAt: now(),
        source: "store",
        ...(providerKeys.right !== undefined ? { providerKeys: providerKeys.right } : {}),
      }
      yield* writable.put(record)
      return json(201, { ...publicView(record), key }, true)
    }),
  )

  const list = guarded(() => Effect.map(store.list, (records) => json(200, { keys: records.map(publicView) })))

  const read = guarded((_, params) =>
    Effect.map(store.get(params.id!), (r) =>
      r === undefined
        ? fail(404, "not_found_error", `no key with id "${Echo.cap(params.id ?? "")}"`)
        : json(200, publicView(r)),
    ),
  )

  const update = guarded((request, params) =>
    Effect.gen(function* () {
      if (writable === undefined) return fail(405, "invalid_request_error", "this gateway's key store is read-only")
      const found = yield* mutable(params.id!)
      if (Either.isLeft(found)) return found.left
      const body = yield* readBody(request, UpdateBody)
      if (Either.isLeft(body)) return body.left
      const b = body.right
      const changes = policyOf(b, updateOwn)
      const policy = policyFields(changes)
      if (Either.isLeft(policy)) return policy.left
      // Policy fields the body does not name stay as stored (this gateway may not know them all).
      const next: Record<string, unknown> = { ...found.right, ...policy.right }
      for (const [field, value] of Object.entries(changes)) if (value === null) delete next[field]
      for (const field of ["name", "models", "expiresAt", "enabled"] as const) {
        const v = b[field]
        if (v === undefined) continue
        if (v === null) delete next[field]
        else next[field] = field === "expiresAt" ? new Date(v as string).toISOString() : v
      }
      const providerKeys = sealed(found.right.id, found.right.providerKeys, b.providerKeys)
      if (Either.isLeft(providerKeys)) return providerKeys.left
      const record = withProviderKeys(next as KeyRecord, providerKeys.right)
      yield* writable.put(record)
      return json(200, publicView(record))
    }),
  )

  const revoke = guarded((_, params) =>
    Effect.gen(function* () {
      if (writable === undefined) return fail(405, "invalid_request_error", "this gateway's key store is read-only")
      const found = yield* mutable(params.id!)
      if (Either.isLeft(found)) return found.left
      const record: KeyRecord = { ...found.right, enabled: false, revokedAt: now() }
      yield* writable.put(record)
      return json(200, publicView(record))
    }),
  )

  const rotate = guarded((_, params) =>
    Effect.gen(function* () {
      if (writable === undefined) return fail(405, "invalid_request_error", "this gateway's key store is read-only")
      const found = yield* mutable(params.id!)
      if (Either.isLeft(found)) return found.left
      const key = generateKey()
      const record: KeyRecord = { ...found.right, keyHash: sha256(key), hint: hint(key) }
      yield* writable.put(record, found.right.keyHash)
      return json(200, { ...publicView(record), key }, true)
    }),
  )

  /**
   * After a new credential key is put first in auth.credentialKeys: seal every stored key's
   * provider credentials with it, so the old key can then be dropped. Keys whose credentials do
   * not open are listed, not changed.
   */
  const reseal = guarded(() =>
    Effect.gen(function* () {
      if (writable === undefined) return fail(405, "invalid_request_error", "this gateway's key store is read-only")
      if (credentialKeys.length === 0)
        return fail(400, "invalid_request_error", "this gateway has no auth.credentialKeys")
      let resealed = 0
      const failed: Array<{ id: string; provider: string; reason: string }> = []
      for (const record of yield* store.list) {
        if (record.source !== "store" || record.providerKeys === undefined) continue
        const next: Record<string, string> = {}
        let changed = false
        for (const [provider, value] of Object.entries(record.providerKeys)) {
          const r = Credentials.reseal(credentialKeys, record.id, provider, value)
          if (Either.isLeft(r)) {
            failed.push({ id: record.id, provider, reason: r.left })
            next[provider] = value
          } else {
            changed ||= r.right !== value
            next[provider] = r.right
          }
        }
        if (changed) {
          yield* writable.put({ ...record, providerKeys: next })
          resealed++
        }
      }
      return json(200, { resealed, failed })
    }),
  )

  return [
    { method: "POST", path: "/admin/credentials/reseal", handle: reseal },
    { method: "POST", path: "/admin/keys", handle: create },
    { method: "GET", path: "/admin/keys", handle: list },
    { method: "GET", path: "/admin/keys/{id}", handle: read },
    { method: "PATCH", path: "/admin/keys/{id}", handle: update },
    { method: "DELETE", path: "/admin/keys/{id}", handle: revoke },
    { method: "POST", path: "/admin/keys/{id}/revoke", handle: revoke },
    { method: "POST", path: "/admin/keys/{id}/rotate", handle: rotate },
  ]
}
