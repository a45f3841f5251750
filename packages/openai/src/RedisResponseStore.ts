/**
 * Responses in Redis, shared by every gateway instance on it, so a conversation may continue on
 * any instance. One key per response (its JSON) and one per item id (the response's id), each
 * with the time to live, which starts over whenever the response is read. Every command is
 * bounded by a timeout; a failure is StoreUnavailable.
 */
import { Effect, Either, Schema } from "effect"
import type { Redis } from "ioredis"
import { isRecord } from "./Decode.ts"
import * as W from "./ResponsesWire.ts"
import { itemIds, type ResponseStore, type StoredResponse, StoreUnavailable } from "./ResponseStore.ts"

export interface RedisOptions {
  readonly redis: Redis
  /** Key prefix shared with the gateway's other Redis state (`redis.prefix`). */
  readonly prefix: string
  readonly ttlMs: number
  readonly timeoutMs: number
}

// Fields an item schema does not know are kept: they may carry what a codec needs back.
const decodeItems = Schema.decodeUnknownEither(Schema.Array(W.InputItem), { onExcessProperty: "preserve" })

/** What comes back from Redis is checked before use: another program may share the keys. */
const parse = (text: string | null): StoredResponse | undefined => {
  if (text === null) return undefined
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(json) || !isRecord(json.response)) return undefined
  const r = json.response
  const previous = r.previous_response_id
  if (typeof r.id !== "string" || !(previous === null || typeof previous === "string")) return undefined
  const input = decodeItems(json.input)
  const output = decodeItems(r.output)
  if (Either.isLeft(input) || Either.isLeft(output)) return undefined
  return { ...json, input: input.right, response: { ...r, output: output.right } } as unknown as StoredResponse
}

export const make = (options: RedisOptions): ResponseStore => {
  const { redis, prefix, ttlMs, timeoutMs } = options
  const responseKey = (scope: string, id: string) => `${prefix}responses:${scope}:r:${id}`
  const itemKey = (scope: string, id: string) => `${prefix}responses:${scope}:i:${id}`
  const ttl = String(Math.max(1, Math.round(ttlMs)))

  const run = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, StoreUnavailable> =>
    Effect.tryPromise({
      try: f,
      catch: (e) => new StoreUnavailable({ reason: `${what}: ${String(e).slice(0, 200)}` }),
    }).pipe(
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () => new StoreUnavailable({ reason: `${what}: no answer within ${timeoutMs} ms` }),
      }),
    )

  // GETEX reads and restarts the time to live in one command.
  const get = (scope: string, id: string) =>
    Effect.map(
      run("get", () => redis.getex(responseKey(scope, id), "PX", ttl)),
      parse,
    )

  return {
    get,
    findItem: (scope, itemId) =>
      Effect.flatMap(
        run("get item", () => redis.getex(itemKey(scope, itemId), "PX", ttl)),
        (id) => (id === null ? Effect.succeed(undefined) : get(scope, id)),
      ),
    put: (scope, stored) =>
      run("put", async () => {
        const id = stored.response.id
        const tx = redis.multi().set(responseKey(scope, id), JSON.stringify(stored), "PX", ttl)
        for (const itemId of itemIds(stored)) tx.set(itemKey(scope, itemId), id, "PX", ttl)
        const results = await tx.exec()
        const failed = results?.find(([e]) => e !== null)
        if (results === null || failed !== undefined) throw failed?.[0] ?? new Error("transaction aborted")
      }),
    delete: (scope, id) =>
      Effect.map(
        run("delete", () => redis.del(responseKey(scope, id))),
        (n) => n > 0,
      ),
  }
}
