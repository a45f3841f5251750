import * as Schema from "effect/Schema"
import { WireExtras } from "./Chat.ts"

export const EmbedRequest = Schema.Struct({
  model: Schema.String,
  /** One embedding per input, in order. */
  inputs: Schema.Array(Schema.String),
  dimensions: Schema.optional(Schema.Number),
  extras: Schema.optional(WireExtras),
})
export type EmbedRequest = typeof EmbedRequest.Type

export const EmbedResponse = Schema.Struct({
  model: Schema.String,
  embeddings: Schema.Array(Schema.Array(Schema.Number)),
  usage: Schema.Struct({ inputTokens: Schema.Number }),
})
export type EmbedResponse = typeof EmbedResponse.Type
