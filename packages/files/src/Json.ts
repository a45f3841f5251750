/**
 * What the files and batches front-ends share: a JSON object check, a 200 JSON reply, and
 * OpenAI's list paging (`limit`, `after`).
 */
import { Effect } from "effect"
import type { Ingress } from "@sluice/core"
import { Errors } from "@sluice/schema"

export type Json = Record<string, unknown>

export const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export const json = (body: unknown, headers?: Readonly<Record<string, string>>): Ingress.Reply => ({
  _tag: "Json",
  status: 200,
  body,
  ...(headers === undefined ? {} : { headers }),
})

/** OpenAI's `limit` query parameter: an integer from 1 to `max`, `fallback` when absent. */
export const openaiLimit = (
  query: URLSearchParams,
  fallback: number,
  max: number,
): Effect.Effect<number, Errors.InvalidRequest> => {
  const text = query.get("limit")
  const limit = text === null ? fallback : Number(text)
  return Number.isInteger(limit) && limit >= 1 && limit <= max
    ? Effect.succeed(limit)
    : Effect.fail(new Errors.InvalidRequest({ message: `limit must be an integer from 1 to ${max}`, param: "limit" }))
}

/** One page of an OpenAI list: up to `limit` items after the one whose id is `after`, with the cursor fields. */
export const openaiPage = <T>(
  all: ReadonlyArray<T>,
  after: string | null,
  limit: number,
  idOf: (t: T) => string,
  toWire: (t: T) => Json,
): Json => {
  let rest = all
  if (after !== null) {
    const at = all.findIndex((t) => idOf(t) === after)
    rest = at === -1 ? [] : all.slice(at + 1)
  }
  const data = rest.slice(0, limit).map(toWire)
  return {
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: rest.length > limit,
  }
}
