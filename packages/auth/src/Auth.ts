/**
 * The virtual-key middleware: the presented credential is hashed, looked up, checked (enabled,
 * not expired, model allowed) and turned into `ctx.principal` for the middleware after it.
 * The virtual key itself is then dropped from the context so nothing downstream can forward it.
 * A credential that is no virtual key may still pass for a model served only by `passthrough`
 * providers: it is then the client's own provider key.
 */
import { Effect, Either, Redacted } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import {
  CurrentKey,
  type GatewayRequest,
  type GatewayResponse,
  Echo,
  Handler,
  KeyPolicy,
  Middleware,
  type MiddlewareSpec,
  ModelId,
  type Principal,
  type RequestContext,
  Wildcard,
} from "@sluice/core"
import { sha256 } from "./Hash.ts"
import * as Credentials from "./Credentials.ts"
import { type KeyRecord, policyOf, toPrincipal } from "./KeyRecord.ts"
import * as KeyStoreM from "./KeyStore.ts"
import type { KeyStore } from "./KeyStore.ts"
import { KeyStoreService } from "./KeyStoreService.ts"

export interface AuthOptions {
  /** True when every target the model routes to is a `passthrough: true` provider. */
  readonly passthrough?: ((model: string) => boolean) | undefined
  /** Whether any provider is `passthrough: true` (an unknown key may then be a provider key). */
  readonly passthroughAny?: boolean | undefined
  /** The clock (tests). */
  readonly now?: (() => number) | undefined
  /** Keys that open the records' sealed provider credentials. */
  readonly credentialKeys?: ReadonlyArray<Credentials.CredentialKey> | undefined
  /**
   * Decodes keys' policy fields (those of the installed middleware). By default the one of the
   * generation being built (`KeyPolicy.Policies`); with none, a key with a policy field is refused.
   */
  readonly policies?: KeyPolicy.Decoder | undefined
}

/**
 * The principal of a record: its policy decoded by the owners' schemas, its provider
 * credentials opened. Records are cached by the stores, so this runs once per record (per
 * generation) and serves every request of the key until the record changes. A record whose
 * policy does not decode (a store written by another version, say) is refused, naming the field.
 */
const principals = (keys: ReadonlyArray<Credentials.CredentialKey>, policies: KeyPolicy.Decoder) => {
  const memo = new WeakMap<KeyRecord, Either.Either<Principal, GatewayError>>()
  return (record: KeyRecord): Either.Either<Principal, GatewayError> => {
    const hit = memo.get(record)
    if (hit !== undefined) return hit
    const policy = policies.decode(policyOf(record))
    let result: Either.Either<Principal, GatewayError> = Either.isRight(policy)
      ? Either.right(toPrincipal(record, policy.right))
      : Either.left(
          new Errors.Internal({
            message: `API key "${Echo.cap(record.name, 64)}" has a policy this gateway cannot use: ${policy.left
              .slice(0, 3)
              .map((i) => `${Echo.cap(i.path, 64)}: ${Echo.capDecodeMessage(i.message)}`)
              .join("; ")}`,
          }),
        )
    if (record.providerKeys !== undefined) {
      const credentials: Record<string, Redacted.Redacted<string>> = {}
      for (const [provider, sealed] of Object.entries(record.providerKeys)) {
        const opened = Credentials.open(keys, record.id, provider, sealed)
        if (Either.isLeft(opened)) {
          result = Either.left(
            new Errors.Internal({
              message: `the ${Echo.cap(provider, 64)} credential of API key "${record.name}" cannot be opened: ${opened.left}`,
            }),
          )
          break
        }
        credentials[provider] = opened.right
      }
      if (Either.isRight(result)) result = Either.right({ ...result.right, credentials })
    }
    memo.set(record, result)
    return result
  }
}

const missing = new Errors.Unauthenticated({
  message: "missing API key: send a virtual key where your SDK puts its API key",
})
const invalid = new Errors.Unauthenticated({ message: "invalid API key" })
const unavailable = new Errors.Unavailable({
  message: "the key store is unavailable; try again shortly",
  retryAfterSeconds: 1,
})

/**
 * Patterns match the id as the router resolves it. Only an id that keeps the model-id rule can
 * match (no `..` segment, no `%`-encoding): `gup/gemini-flash*` must not admit
 * `gup/gemini-flash/../gemini-pro`, whatever a pattern's `*` would say.
 */
const allowed = (record: KeyRecord, model: string): boolean =>
  record.models === undefined ||
  (ModelId.isValid(model) && record.models.some((pattern) => Wildcard.matches(pattern, model)))

/** Check a verified key against the request; an error says what is wrong, never the key. */
export const check = (record: KeyRecord, model: string | undefined, now: number): GatewayError | undefined => {
  if (!record.enabled) return new Errors.PermissionDenied({ message: `API key "${record.name}" is disabled` })
  if (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= now)
    return new Errors.PermissionDenied({ message: `API key "${record.name}" expired at ${record.expiresAt}` })
  if (model !== undefined && !allowed(record, model))
    return new Errors.PermissionDenied({ message: `API key "${record.name}" may not use model "${Echo.cap(model)}"` })
  return undefined
}

/** A model listing shows only what the key may use. */
const filterModels = (record: KeyRecord, response: GatewayResponse): GatewayResponse =>
  response._tag === "ListModels" && record.models !== undefined
    ? { ...response, models: response.models.filter((m) => allowed(record, m.id)) }
    : response

/** The key's record, found by the hash of what the client presented; a store failure fails closed. */
const lookup = (store: KeyStore, credential: Redacted.Redacted<string>) =>
  store.findByHash(sha256(Redacted.value(credential))).pipe(
    Effect.tapError((e) => Effect.logWarning(`auth: key store failed (${e.reason}); refusing the request`)),
    Effect.mapError(() => unavailable),
  )

export interface Auth {
  /**
   * The check the server runs on the headers before the body is read: no key, an unknown key
   * (unless a passthrough provider could take it), a disabled or expired key are refused there.
   */
  readonly admit: (ctx: RequestContext) => Effect.Effect<void, GatewayError>
  /** The per-request rules that need the decoded request (the model), after decoding. */
  readonly middleware: Middleware.Middleware
}

export const make = (store: KeyStore, options: AuthOptions = {}): Auth => {
  // What admit found, for the middleware of the same request (keyed by its credential object).
  const verified = new WeakMap<Redacted.Redacted<string>, KeyRecord>()
  const principalOf = principals(options.credentialKeys ?? [], options.policies ?? KeyPolicy.decoder(undefined, []))

  const admit = (ctx: RequestContext): Effect.Effect<void, GatewayError> =>
    Effect.gen(function* () {
      const credential = ctx.credential
      if (credential === undefined || Redacted.value(credential) === "") return yield* Effect.fail(missing)
      const record = yield* lookup(store, credential)
      if (record === undefined) {
        if (options.passthroughAny === true) return
        return yield* Effect.fail(invalid)
      }
      const denied = check(record, undefined, (options.now ?? Date.now)())
      if (denied !== undefined) return yield* Effect.fail(denied)
      verified.set(credential, record)
    })

  const middleware: Middleware.Middleware = (next) => (request: GatewayRequest) =>
    Effect.gen(function* () {
      const credential = request.ctx.credential
      if (credential === undefined || Redacted.value(credential) === "") return yield* Effect.fail(missing)
      const model = Handler.modelOf(request)
      // The ingresses already refuse such ids; a handler called some other way gets the same answer.
      const reason = model === undefined ? undefined : ModelId.problem(model)
      if (reason !== undefined) return yield* Effect.fail(ModelId.invalid(reason))
      const record = verified.get(credential) ?? (yield* lookup(store, credential))
      if (record === undefined) {
        // Not one of ours: the client's own provider key, if the model goes only to passthrough providers.
        if (model !== undefined && options.passthrough?.(model) === true) return yield* next(request)
        return yield* Effect.fail(invalid)
      }
      const principal = principalOf(record)
      // Outer middleware (tracing, request logs) learn whose key this is, typed — never the key.
      if (request.ctx.notes !== undefined)
        request.ctx.notes.principal = Either.isRight(principal) ? principal.right : toPrincipal(record)
      const denied = check(record, model, (options.now ?? Date.now)())
      if (denied !== undefined) return yield* Effect.fail(denied)
      if (Either.isLeft(principal)) {
        yield* Effect.logError(principal.left.message)
        return yield* Effect.fail(principal.left)
      }
      // Inner middleware read the principal from the request; code with no request at hand
      // reads it from the Effect context (CurrentKey).
      const response = yield* CurrentKey.serving(principal.right)(
        next({
          ...request,
          ctx: { ...request.ctx, principal: principal.right, credential: undefined },
        } as GatewayRequest),
      )
      return filterModels(record, response)
    })

  return { admit, middleware }
}

/** The middleware alone (it checks everything itself when no admit ran before it). */
export const middlewareFn = (store: KeyStore, options: AuthOptions = {}): Middleware.Middleware =>
  make(store, options).middleware

/**
 * `Auth.middleware(store, { policies })`: the middleware alone, for programmatic pipelines and
 * tests. Give it the key policy fields of the middleware after it
 * (`KeyPolicy.decoder(undefined, [RateLimit.keyPolicy])`), or it uses `KeyPolicy.Policies`.
 */
export const middleware = (store: KeyStore, options: AuthOptions = {}): MiddlewareSpec =>
  Middleware.make(
    "auth",
    Effect.map(KeyPolicy.Policies, (policies) =>
      middlewareFn(store, { ...options, policies: options.policies ?? policies }),
    ),
  )

/**
 * `Auth.fromService(records)`: keys given in code (read-only, looked up first) over the
 * `KeyStoreService` of the gateway's layer (`KeyStoreService.memory`, or `.redis` on the shared
 * Redis clients), asked for once when the pipeline is built — for programmatic gateways that
 * compose their services with `Layer`.
 */
export const fromService = (
  records: ReadonlyArray<KeyRecord> = [],
  options: AuthOptions = {},
): MiddlewareSpec<never, KeyStoreService> =>
  Middleware.make(
    "auth",
    Effect.flatMap(
      KeyStoreService,
      (store) => middleware(KeyStoreM.layered(KeyStoreM.fromRecords(records), store), options).build,
    ),
  )
