/**
 * Stored state → input items: `previous_response_id` becomes the whole conversation before it
 * (each earlier response's input items then its output items, oldest first, along the chain of
 * `previous_response_id`s), and each `item_reference` becomes the stored item it names. The
 * result is plain items, translated for any upstream like items the client sent itself.
 * Instructions and tools are not carried over (as with OpenAI): each request sends its own.
 */
import { Effect } from "effect"
import * as ResponsesCodec from "./ResponsesCodec.ts"
import * as E from "./ResponsesError.ts"
import { itemOf, type ResponseStore, type StoredResponse, type StoreUnavailable, validId } from "./ResponseStore.ts"
import type * as W from "./ResponsesWire.ts"

/** The longest chain of responses followed; beyond it the client must send the conversation. */
export const maxChain = 10_000

/** The stored responses from the first of the conversation to `id`, oldest first. */
export const chain = (
  store: ResponseStore,
  scope: string,
  id: string,
): Effect.Effect<Array<StoredResponse>, E.ResponsesError | StoreUnavailable> =>
  Effect.gen(function* () {
    if (!validId(id)) return yield* Effect.fail(E.invalidId("previous_response_id"))
    const out: Array<StoredResponse> = []
    const seen = new Set<string>()
    let next: string | null = id
    while (next !== null) {
      if (seen.has(next) || out.length >= maxChain)
        return yield* Effect.fail(
          new E.ResponsesError({
            status: 400,
            message: `the conversation of '${id}' is longer than ${maxChain} responses; send it as input`,
            param: "previous_response_id",
            code: null,
          }),
        )
      seen.add(next)
      const stored: StoredResponse | undefined = validId(next) ? yield* store.get(scope, next) : undefined
      if (stored === undefined) return yield* Effect.fail(E.previousNotFound(id, next))
      out.push(stored)
      next = stored.response.previous_response_id
    }
    return out.reverse()
  })

/** The items of a chain of responses, in conversation order. */
export const itemsOf = (responses: ReadonlyArray<StoredResponse>): Array<W.InputItem> =>
  responses.flatMap((r) => [...r.input, ...r.response.output])

/** The request's items with every reference replaced by the item it names. */
export const resolveReferences = (
  store: ResponseStore,
  scope: string,
  items: ReadonlyArray<W.RequestItem>,
): Effect.Effect<Array<W.InputItem>, E.ResponsesError | StoreUnavailable> =>
  Effect.forEach(
    items,
    (item, i) => {
      if (!ResponsesCodec.isReference(item)) return Effect.succeed(item as W.InputItem)
      const param = `input[${i}].id`
      if (!validId(item.id)) return Effect.fail(E.invalidId(param))
      return Effect.flatMap(store.findItem(scope, item.id), (stored) => {
        const found = stored === undefined ? undefined : itemOf(stored, item.id)
        return found === undefined ? Effect.fail(E.itemNotFound(item.id, param)) : Effect.succeed(found)
      })
    },
    { concurrency: 8 },
  )

/**
 * Items as they are kept: each with an id (what `item_reference` and `input_items` name) and a
 * message's text as content parts, as OpenAI lists them.
 */
export const forStorage = (items: ReadonlyArray<W.InputItem>): Array<W.InputItem> =>
  items.map((item): W.InputItem => {
    switch (item.type) {
      case undefined:
      case "message":
        return {
          ...item,
          type: "message",
          id: item.id ?? ResponsesCodec.newId("msg"),
          content:
            typeof item.content === "string"
              ? [
                  item.role === "assistant"
                    ? { type: "output_text", text: item.content, annotations: [] }
                    : { type: "input_text", text: item.content },
                ]
              : item.content,
        }
      case "function_call":
        return { ...item, id: item.id ?? ResponsesCodec.newId("fc") }
      case "function_call_output":
        return { ...item, id: item.id ?? ResponsesCodec.newId("fco") }
      case "image_generation_call":
        return { ...item, id: item.id ?? ResponsesCodec.newId("ig") }
      default:
        return { ...item, id: item.id ?? ResponsesCodec.newId("rs") }
    }
  })
