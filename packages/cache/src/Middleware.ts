/**
 * The response cache. For a Chat request whose model is opted in, it looks the canonical request
 * up (scoped per key or per namespace); a hit is answered from the stored canonical answer —
 * whole, or replayed as a stream — in whatever format the client speaks, without calling
 * upstream. A miss calls on and stores the answer once it completed normally (a stream once its
 * last event went by). Identical requests arriving while one is in flight can wait for it
 * instead of calling upstream too (`coalesce`). Every answer it considered says `hit`, `miss` or
 * `bypass` in `x-sluice-cache`.
 */
import { createHash } from "node:crypto"
import { Deferred, Effect, Either, Redacted, Stream } from "effect"
import {
  Collect,
  type GatewayRequest,
  type GatewayResponse,
  type HandlerFn,
  type MiddlewareFn,
  type Router,
  Wildcard,
} from "@sluice/core"
import type { Chat, StreamEvent } from "@sluice/schema"
import * as CacheControl from "./CacheControl.ts"
import * as Entry from "./Entry.ts"
import * as Key from "./Key.ts"
import type { CacheStore } from "./Store.ts"

export const header = "x-sluice-cache"
/** On a hit: the input + output tokens the stored answer cost when it was made. */
export const savedHeader = "x-sluice-cache-tokens-saved"

export type Scope = { readonly _tag: "key" } | { readonly _tag: "namespace"; readonly name: string }

export interface Options {
  readonly store: CacheStore
  readonly router: Router.RouterService
  /** Model id patterns (as asked, or a routed candidate's id) the cache applies to. */
  readonly models: ReadonlyArray<string>
  readonly ttlMs: number
  readonly scope: Scope
  /** Wait for an identical in-flight request instead of calling upstream again. */
  readonly coalesce: boolean
  /** Answers larger than this (serialized) are not stored. */
  readonly maxEntryBytes: number
  /** How long a follower waits for the leader before asking upstream itself. */
  readonly coalesceWaitMs: number
}

const tokensOf = (r: Chat.ChatResponse) => r.usage.inputTokens + r.usage.outputTokens

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")

/** Who the entry belongs to: the verified key, else the credential presented, else everyone. */
const scopeOf = (scope: Scope, request: GatewayRequest): string => {
  if (scope._tag === "namespace") return `ns:${scope.name}`
  const principal = request.ctx.principal
  if (principal !== undefined) return `key:${principal.id}`
  if (request.ctx.credential !== undefined) return `cred:${sha256(Redacted.value(request.ctx.credential))}`
  return "open"
}

const answer = (
  request: { readonly chat: Chat.ChatRequest },
  response: Chat.ChatResponse,
  headers: Record<string, string>,
): GatewayResponse =>
  request.chat.stream
    ? { _tag: "ChatStream", events: Stream.fromIterable(Collect.eventsOf(response)), headers, opened: true }
    : { _tag: "Chat", chat: response, headers }

export const make = (options: Options): MiddlewareFn => {
  const patterns = options.models.map(Wildcard.compile)
  const optedIn = (asked: string, resolution: Router.Resolution) =>
    patterns.some((p) => p(asked) || resolution.candidates.some((c) => p(c.id)))
  /** Requests in flight, by cache key: followers wait for the leader's answer (undefined = none). */
  const inflight = new Map<string, Deferred.Deferred<Chat.ChatResponse | undefined>>()

  const store = (key: string, response: Chat.ChatResponse) =>
    Effect.suspend(() => {
      if (!Entry.cacheable(response)) return Effect.void
      const value = Entry.serialize(response, Date.now())
      return value.length > options.maxEntryBytes ? Effect.void : options.store.set(key, value, options.ttlMs)
    })

  return (next: HandlerFn): HandlerFn =>
    (request) => {
      if (request._tag !== "Chat") return next(request)
      const resolution = options.router.resolve(request.chat.model)
      if (Either.isLeft(resolution) || !optedIn(request.chat.model, resolution.right)) return next(request)
      const directives = CacheControl.parse(request.ctx.headers["cache-control"])
      const tag = (r: GatewayResponse, value: "hit" | "miss" | "bypass") => ({
        ...r,
        headers: { ...r.headers, [header]: value },
      })
      if (directives.noStore) return Effect.map(next(request), (r) => tag(r, "bypass"))
      const policy = request.ctx.principal?.policy?.guardrails
      const key = Key.of({
        scope: scopeOf(options.scope, request),
        resolution: resolution.right,
        chat: request.chat,
        policy,
      })
      const hit = (response: Chat.ChatResponse) =>
        answer(request, response, { [header]: "hit", [savedHeader]: String(tokensOf(response)) })

      return Effect.gen(function* () {
        if (!directives.noCache) {
          const stored = yield* options.store.get(key)
          const entry = stored === undefined ? undefined : Entry.parse(stored)
          if (entry !== undefined) return hit(entry.response)
          const leader = options.coalesce ? inflight.get(key) : undefined
          if (leader !== undefined) {
            const shared = yield* Deferred.await(leader).pipe(
              Effect.timeoutTo({ duration: options.coalesceWaitMs, onSuccess: (r) => r, onTimeout: () => undefined }),
            )
            if (shared !== undefined) return hit(shared)
            // The leader failed or was cut off: this request asks for itself.
            return tag(yield* next(request), directives.noCache ? "bypass" : "miss")
          }
        }
        const label = directives.noCache ? "bypass" : "miss"
        // Only a request that may read the cache leads others (a no-cache one is not looked for).
        const done = yield* Deferred.make<Chat.ChatResponse | undefined>()
        const leading = options.coalesce && !directives.noCache && !inflight.has(key)
        if (leading) inflight.set(key, done)
        const settle = (value: Chat.ChatResponse | undefined) =>
          Effect.suspend(() => {
            if (leading && inflight.get(key) === done) inflight.delete(key)
            return Deferred.succeed(done, value)
          })
        const response = yield* next(request).pipe(Effect.onError(() => settle(undefined)))
        if (response._tag === "Chat") {
          yield* store(key, response.chat)
          yield* settle(Entry.cacheable(response.chat) ? response.chat : undefined)
          return tag(response, label)
        }
        if (response._tag !== "ChatStream") {
          yield* settle(undefined)
          return tag(response, label)
        }
        const seen: Array<StreamEvent> = []
        const completed = Effect.suspend(() =>
          Collect.collect(Stream.fromIterable(seen)).pipe(
            Effect.tap((whole) => store(key, whole)),
            Effect.flatMap((whole) => settle(Entry.cacheable(whole) ? whole : undefined)),
            Effect.catchAll(() => settle(undefined)),
          ),
        )
        const events = response.events.pipe(
          Stream.mapChunks((chunk) => {
            for (const e of chunk) seen.push(e)
            return chunk
          }),
          // Runs only when the stream ended normally; the store write is bounded by the store.
          Stream.concat(Stream.execute(completed)),
          Stream.ensuring(settle(undefined)),
        )
        return tag({ ...response, events }, label)
      })
    }
}
