/**
 * Canonical stream events. Every provider decodes its own stream dialect into these and every
 * ingress encodes them into its own, so any-to-any streaming is N+N code.
 *
 * Ordering contract (providers must keep it, ingress encoders may rely on it):
 * - `start` comes first, `finish` last (then the stream ends);
 * - a tool call is `tool_call_start` → zero or more `tool_call_delta` → `tool_call_end`, keyed by
 *   `index`; calls may interleave (parallel calls) but each index starts before its deltas;
 * - failures are the Stream's error channel (a GatewayError), not events.
 */
import * as Schema from "effect/Schema"
import { FinishReason, Usage } from "./Chat.ts"

export const StartEvent = Schema.TaggedStruct("start", { id: Schema.String, model: Schema.String })
export const TextDelta = Schema.TaggedStruct("text_delta", {
  text: Schema.String,
  signature: Schema.optional(Schema.String),
})
export const ReasoningDelta = Schema.TaggedStruct("reasoning_delta", {
  text: Schema.String,
  /** A signature closes the current reasoning block (Anthropic signature_delta, Gemini thoughtSignature). */
  signature: Schema.optional(Schema.String),
  redacted: Schema.optional(Schema.String),
})
/** A whole image the model drew (no provider streams partial images as parts of an answer). */
export const ImageEvent = Schema.TaggedStruct("image", {
  mediaType: Schema.String,
  /** Base64 bytes. */
  data: Schema.String,
  signature: Schema.optional(Schema.String),
})
export const ToolCallStart = Schema.TaggedStruct("tool_call_start", {
  index: Schema.Number,
  id: Schema.String,
  name: Schema.String,
  signature: Schema.optional(Schema.String),
})
export const ToolCallDelta = Schema.TaggedStruct("tool_call_delta", {
  index: Schema.Number,
  /** A fragment of the arguments' JSON text. */
  arguments: Schema.String,
})
export const ToolCallEnd = Schema.TaggedStruct("tool_call_end", { index: Schema.Number })
/** Usage known before the end (Anthropic message_start input tokens). Later values win. */
export const UsageEvent = Schema.TaggedStruct("usage", { usage: Usage })
export const FinishEvent = Schema.TaggedStruct("finish", {
  finishReason: FinishReason,
  stopSequence: Schema.optional(Schema.String),
  usage: Usage,
})

export const StreamEvent = Schema.Union(
  StartEvent,
  TextDelta,
  ReasoningDelta,
  ImageEvent,
  ToolCallStart,
  ToolCallDelta,
  ToolCallEnd,
  UsageEvent,
  FinishEvent,
)
export type StreamEvent = typeof StreamEvent.Type
export type StreamEventOf<T extends StreamEvent["_tag"]> = Extract<StreamEvent, { _tag: T }>
