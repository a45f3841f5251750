/**
 * Virtual keys in Redis, for a fleet of gateways. Each instance caches verified keys in memory
 * and drops cache entries when any instance publishes a change (create, update, rotate, revoke)
 * on a pub/sub channel — so a revocation takes effect everywhere within a second. While the
 * subscription is down the cache is bypassed (it could be stale), and if Redis itself is down
 * lookups fail: auth then fails closed.
 */
import { randomUUID } from "node:crypto"
import { Deferred, Effect, Either, Exit, Schedule, Schema, type Scope } from "effect"
import type { Redis } from "ioredis"
import { equalHashes } from "./Hash.ts"
import { KeyRecord } from "./KeyRecord.ts"
import { type KeyStore, StoreUnavailable } from "./KeyStore.ts"
import * as RedisConn from "./Redis.ts"

export interface RedisKeyStoreOptions {
  readonly redis: Redis
  /** A subscriber connection (its own socket: a subscribed connection can send nothing else). */
  readonly subscriber: Redis
  /** Prefix of every Redis key and of the channel, e.g. `sluice:`. */
  readonly prefix: string
  /** How long a verified key is trusted from memory without a change notice. */
  readonly cacheTtlMs: number
  /** Bound on every Redis command. */
  readonly timeoutMs: number
}

const decodeRecord = Schema.decodeUnknownEither(Schema.parseJson(KeyRecord))
const encodeRecord = Schema.encodeSync(Schema.parseJson(KeyRecord))

// One round trip: hash → id → record.
const lookupScript = `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[2], id)
`

interface CacheEntry {
  readonly record: KeyRecord | undefined
  readonly expires: number
}

const maxCacheEntries = 10_000
/** Unknown hashes are remembered briefly, so a flood of bad keys does not become a flood on Redis. */
const negativeTtlMs = 5_000

export const make = (options: RedisKeyStoreOptions): Effect.Effect<KeyStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { redis, subscriber, prefix, timeoutMs } = options
    const keysKey = `${prefix}auth:keys`
    const hashesKey = `${prefix}auth:hashes`
    const channel = `${prefix}auth:invalidate`
    const cache = new Map<string, CacheEntry>()
    // Bumped on every invalidation: a lookup that raced one must not cache what it read.
    let generation = 0
    // True only once a probe we published came back through our own subscription: a connection
    // that says "ready" is not proof that its SUBSCRIBE took (seen under load at start).
    let subscribed = false
    const probes = new Map<string, () => void>()

    const invalidate = (hashes: ReadonlyArray<string>) => {
      generation++
      if (hashes.length === 0) cache.clear()
      for (const h of hashes) cache.delete(h)
    }

    const onMessage = (ch: string, message: string) => {
      if (ch !== channel) return
      let parsed: unknown
      try {
        parsed = JSON.parse(message)
      } catch {
        return invalidate([])
      }
      if (Array.isArray(parsed)) return invalidate(parsed.filter((h): h is string => typeof h === "string"))
      const probe = (parsed as { probe?: unknown } | null)?.probe
      if (typeof probe === "string") return probes.get(probe)?.()
      invalidate([])
    }
    const onDown = () => {
      subscribed = false
      invalidate([])
    }
    subscriber.on("message", onMessage)
    // A lost connection clears the cache and stops caching until a probe comes back through the
    // resubscribed connection. ("ready" is not a loss: on a first connect it can come after the
    // probe already proved the subscription.)
    subscriber.on("close", onDown)
    subscriber.on("end", onDown)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        subscriber.off("message", onMessage)
        subscriber.off("close", onDown)
        subscriber.off("end", onDown)
      }),
    )

    /** (Re)subscribe if needed and prove the subscription delivers; the cache is used only then. */
    const verify = Effect.gen(function* () {
      const nonce = randomUUID()
      const arrived = yield* Deferred.make<void>()
      probes.set(nonce, () => Deferred.unsafeDone(arrived, Exit.void))
      const ok = yield* Effect.tryPromise(() => subscriber.subscribe(channel)).pipe(
        Effect.zipRight(Effect.tryPromise(() => redis.publish(channel, JSON.stringify({ probe: nonce })))),
        Effect.zipRight(Deferred.await(arrived)),
        Effect.timeout(Math.max(1_000, timeoutMs * 2)),
        Effect.as(true),
        Effect.catchAll(() => Effect.succeed(false)),
        Effect.ensuring(Effect.sync(() => probes.delete(nonce))),
      )
      if (ok && !subscribed) invalidate([])
      subscribed = ok
    })
    yield* verify
    if (!subscribed)
      yield* Effect.logWarning(
        "auth: key change notices are not reaching this instance yet; not caching keys until they do",
      )
    // Every second while unproven, every ten seconds once proven.
    let tick = 0
    yield* Effect.forkScoped(
      Effect.repeat(
        Effect.suspend(() => (++tick % 10 === 0 || !subscribed ? verify : Effect.void)),
        Schedule.spaced("1 second"),
      ),
    )

    const run = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, StoreUnavailable> =>
      Effect.tryPromise({ try: f, catch: (e) => new StoreUnavailable({ reason: `${what}: ${String(e)}` }) }).pipe(
        Effect.timeoutFail({
          duration: timeoutMs,
          onTimeout: () => new StoreUnavailable({ reason: `${what}: no answer within ${timeoutMs} ms` }),
        }),
      )

    const parse = (json: unknown): KeyRecord | undefined => {
      if (typeof json !== "string") return undefined
      const r = decodeRecord(json)
      return Either.isRight(r) ? r.right : undefined
    }

    const findByHash = (hash: string): Effect.Effect<KeyRecord | undefined, StoreUnavailable> =>
      Effect.suspend(() => {
        const now = Date.now()
        if (subscribed) {
          const hit = cache.get(hash)
          if (hit !== undefined && hit.expires > now) return Effect.succeed(hit.record)
        }
        const seen = generation
        return run("key lookup", () => redis.eval(lookupScript, 2, hashesKey, keysKey, hash)).pipe(
          Effect.map((json) => {
            const record = parse(json)
            // The index is only a pointer: verify the stored hash itself, in constant time.
            const live =
              record !== undefined && record.revokedAt === undefined && equalHashes(record.keyHash, hash)
                ? record
                : undefined
            if (subscribed && seen === generation) {
              if (cache.size >= maxCacheEntries) cache.clear()
              cache.set(hash, {
                record: live,
                expires: now + (live ? options.cacheTtlMs : Math.min(negativeTtlMs, options.cacheTtlMs)),
              })
            }
            return live
          }),
        )
      })

    const store: KeyStore = {
      findByHash,
      get: (id) => run("key read", () => redis.hget(keysKey, id)).pipe(Effect.map(parse)),
      list: run("key list", () => redis.hvals(keysKey)).pipe(
        Effect.map((values) => values.map(parse).filter((r): r is KeyRecord => r !== undefined)),
      ),
      writable: {
        put: (record, previousHash) =>
          Effect.gen(function* () {
            const tx = redis.multi().hset(keysKey, record.id, encodeRecord(record))
            if (record.revokedAt === undefined) tx.hset(hashesKey, record.keyHash, record.id)
            else tx.hdel(hashesKey, record.keyHash)
            const touched = [record.keyHash]
            if (previousHash !== undefined && previousHash !== record.keyHash) {
              tx.hdel(hashesKey, previousHash)
              touched.push(previousHash)
            }
            yield* run("key write", () => tx.exec())
            invalidate(touched)
            yield* run("key change notice", () => redis.publish(channel, JSON.stringify(touched)))
          }),
      },
    }
    return store
  })

/** Connect (data + subscriber connections, scoped) and build the store. */
export const connect = (
  options: Omit<RedisKeyStoreOptions, "redis" | "subscriber"> & { readonly url: string },
): Effect.Effect<KeyStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const redis = yield* RedisConn.connect({ url: options.url })
    const subscriber = yield* RedisConn.connect({ url: options.url, offlineQueue: true })
    const ready = yield* RedisConn.awaitReady(redis, 2_000)
    // The first probe goes through a subscriber that is already connected (not a queued SUBSCRIBE).
    yield* RedisConn.awaitReady(subscriber, 2_000)
    if (!ready) yield* Effect.logWarning(`auth: Redis at ${RedisConn.describe(options.url)} is not reachable yet`)
    return yield* make({ ...options, redis, subscriber })
  })
