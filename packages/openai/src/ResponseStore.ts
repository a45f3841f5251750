/**
 * Where the Responses API keeps responses, so a later request can continue from one
 * (`previous_response_id`), point at its items (`item_reference`), read it back or delete it.
 * Everything is kept per scope — the credential that created it — so one caller never sees
 * another's responses. Implementations: memory (bounded, one instance) and Redis (a fleet).
 */
import { createHash } from "node:crypto"
import { Data, type Effect, Redacted } from "effect"
import type { RequestContext } from "@sluice/core"
import type * as W from "./ResponsesWire.ts"

/** A stored response: the object the client received, and the input items it answered. */
export interface StoredResponse {
  /** The `response` object as returned (its id, output items and `previous_response_id`). */
  readonly response: W.Response
  /** This request's own input items (item references resolved), each with an id. */
  readonly input: ReadonlyArray<W.InputItem>
}

/** The store could not answer (Redis down or slow); the request gets a 503. */
export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{ readonly reason: string }> {}

export interface ResponseStore {
  /** Read a response (and start its time to live over). */
  readonly get: (scope: string, id: string) => Effect.Effect<StoredResponse | undefined, StoreUnavailable>
  /** The response that holds an item (input or output) with this id. */
  readonly findItem: (scope: string, itemId: string) => Effect.Effect<StoredResponse | undefined, StoreUnavailable>
  readonly put: (scope: string, stored: StoredResponse) => Effect.Effect<void, StoreUnavailable>
  /** True when there was a response to delete. */
  readonly delete: (scope: string, id: string) => Effect.Effect<boolean, StoreUnavailable>
}

/**
 * Ids a client may name: what OpenAI's are made of (letters, digits, `_`, `-`), bounded, so an
 * id is safe as part of a store key and in an error message.
 */
export const validId = (id: string): boolean => /^[A-Za-z0-9_-]{1,128}$/.test(id)

/**
 * Whose responses these are: a hash of the credential the client presented (the virtual key,
 * or the client's own provider key on a passthrough provider), or `anonymous` without one.
 * Only the holder of the same key string reaches the same scope; the key itself is never kept.
 */
export const scopeOf = (ctx: RequestContext): string => {
  const key = ctx.credential === undefined ? "" : Redacted.value(ctx.credential)
  return key === "" ? "anonymous" : createHash("sha256").update(key).digest("hex")
}

/** Ids of a stored response's items, input and output, that `item_reference` may name. */
export const itemIds = (stored: StoredResponse): Array<string> => {
  const ids: Array<string> = []
  for (const item of [...stored.input, ...stored.response.output]) {
    if (item.id != null && validId(item.id)) ids.push(item.id)
  }
  return ids
}

/** The item with this id in a stored response. */
export const itemOf = (stored: StoredResponse, id: string): W.InputItem | undefined =>
  stored.response.output.find((i) => i.id === id) ?? stored.input.find((i) => i.id === id)
