/**
 * Content parts: the lossless superset of Gemini parts, OpenAI content parts and Anthropic
 * content blocks. Signatures (Gemini thoughtSignature, Anthropic thinking signature) live on
 * the part that carried them so a round trip through any ingress gives them back untouched.
 */
import * as Schema from "effect/Schema"

export const TextPart = Schema.Struct({
  type: Schema.Literal("text"),
  text: Schema.String,
  /** Gemini may sign a plain text part too. */
  signature: Schema.optional(Schema.String),
})
export type TextPart = typeof TextPart.Type

export const MediaSource = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("base64"), mediaType: Schema.String, data: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("url"), url: Schema.String, mediaType: Schema.optional(Schema.String) }),
)
export type MediaSource = typeof MediaSource.Type

/**
 * An image (or other media: audio, pdf) given inline as base64 or by URL — in a prompt, or in an
 * answer from a model that draws (Gemini image models, OpenAI image models).
 */
export const ImagePart = Schema.Struct({
  type: Schema.Literal("image"),
  source: MediaSource,
  /** Gemini thoughtSignature on an image it drew (kept for multi-turn editing). */
  signature: Schema.optional(Schema.String),
})
export type ImagePart = typeof ImagePart.Type

export const ToolCallPart = Schema.Struct({
  type: Schema.Literal("tool_call"),
  id: Schema.String,
  name: Schema.String,
  /** JSON text of the arguments object, exactly as the model produced it. */
  arguments: Schema.String,
  /** Gemini thoughtSignature attached to a functionCall part. */
  signature: Schema.optional(Schema.String),
})
export type ToolCallPart = typeof ToolCallPart.Type

export const ToolResultPart = Schema.Struct({
  type: Schema.Literal("tool_result"),
  /** The id of the tool call this answers. */
  id: Schema.String,
  name: Schema.String,
  content: Schema.Array(Schema.Union(TextPart, ImagePart)),
  /** A structured result (Gemini functionResponse.response) when the client sent one. */
  structured: Schema.optional(Schema.Unknown),
  isError: Schema.optional(Schema.Boolean),
})
export type ToolResultPart = typeof ToolResultPart.Type

export const ReasoningPart = Schema.Struct({
  type: Schema.Literal("reasoning"),
  text: Schema.String,
  signature: Schema.optional(Schema.String),
  /** Anthropic redacted_thinking payload: opaque, returned as is. */
  redacted: Schema.optional(Schema.String),
})
export type ReasoningPart = typeof ReasoningPart.Type

export const Part = Schema.Union(TextPart, ImagePart, ToolCallPart, ToolResultPart, ReasoningPart)
export type Part = typeof Part.Type

/** Plain constructors: parts are data; codecs build them on the hot path without validation. */
export const text = (text: string, signature?: string): TextPart =>
  signature === undefined ? { type: "text", text } : { type: "text", text, signature }

/** Concatenated text of the text parts (what most checks and the mock model look at). */
export const textOf = (parts: ReadonlyArray<Part>): string => {
  let out = ""
  for (const p of parts) if (p.type === "text") out += p.text
  return out
}
