/**
 * What a cache entry holds: the canonical complete answer (a streamed answer is folded into
 * one) and when it was stored. Entries read back are decoded, not trusted: a corrupt or foreign
 * value in a shared store is a miss.
 */
import { Either, Schema } from "effect"
import { Chat } from "@sluice/schema"

export const Entry = Schema.Struct({
  v: Schema.Literal(1),
  storedAt: Schema.Number,
  response: Chat.ChatResponse,
})
export type Entry = typeof Entry.Type

const decode = Schema.decodeUnknownEither(Schema.parseJson(Entry))

export const serialize = (response: Chat.ChatResponse, storedAt: number): string =>
  JSON.stringify({ v: 1, storedAt, response } satisfies Entry)

export const parse = (text: string): Entry | undefined => Either.getOrUndefined(decode(text))

/** Answers worth replaying: finished normally, not cut off by an error or a filter. */
export const cacheable = (response: Chat.ChatResponse): boolean =>
  response.finishReason === "stop" ||
  response.finishReason === "length" ||
  response.finishReason === "stop_sequence" ||
  response.finishReason === "tool_calls"
