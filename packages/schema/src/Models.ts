import * as Schema from "effect/Schema"

/** A model this gateway routes, as listed to clients. */
export const ModelInfo = Schema.Struct({
  /** The id a client sends (a `models:` alias or `provider/model`). */
  id: Schema.String,
  /** The configured provider name that serves it. */
  provider: Schema.String,
  displayName: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  /** Unix seconds. */
  created: Schema.optional(Schema.Number),
  inputTokenLimit: Schema.optional(Schema.Number),
  outputTokenLimit: Schema.optional(Schema.Number),
  /** Operations the model supports: "chat", "embed", "countTokens". */
  operations: Schema.optional(Schema.Array(Schema.String)),
})
export type ModelInfo = typeof ModelInfo.Type

export const CountTokensResponse = Schema.Struct({ inputTokens: Schema.Number })
export type CountTokensResponse = typeof CountTokensResponse.Type
