/**
 * How an OpenAI-compatible server differs from OpenAI itself. A preset is a Dialect plus a
 * default base URL; the codec and provider are shared.
 */
import * as Schema from "effect/Schema"

export const Dialect = Schema.Struct({
  /** OpenAI wants max_completion_tokens (reasoning models reject max_tokens); most others max_tokens. */
  maxTokensField: Schema.Literal("max_completion_tokens", "max_tokens"),
  /** Send `reasoning_effort` when the request asks for reasoning. */
  reasoningEffort: Schema.Boolean,
  /** Send `metadata` (OpenAI stores it with the completion; others may reject it). */
  metadata: Schema.Boolean,
  /**
   * Send earlier reasoning back as assistant `reasoning_content`. DeepSeek answers 400 when input
   * messages carry it, OpenAI has no such field, so it is off for both.
   */
  replayReasoning: Schema.Boolean,
  /** Ask for the final usage chunk with `stream_options.include_usage`. */
  streamUsage: Schema.Boolean,
  /**
   * Models (wildcards) whose image requests go to `/images/generations` and `/images/edits`
   * rather than chat completions.
   */
  imageModels: Schema.Array(Schema.String),
  /** Models (wildcards) whose audio-output requests go to `/audio/speech`. */
  speechModels: Schema.Array(Schema.String),
  /** Models (wildcards) whose requests with an audio file go to `/audio/transcriptions`. */
  transcriptionModels: Schema.Array(Schema.String),
})
export type Dialect = typeof Dialect.Type

export const openai: Dialect = {
  maxTokensField: "max_completion_tokens",
  reasoningEffort: true,
  metadata: true,
  replayReasoning: false,
  streamUsage: true,
  imageModels: ["gpt-image-*", "dall-e-*", "chatgpt-image-*"],
  speechModels: ["tts-*", "gpt-4o-mini-tts*", "gpt-*-tts*"],
  transcriptionModels: ["whisper-*", "*-transcribe", "*-transcribe-*"],
}

/** The common denominator of servers that copy the format (vLLM, Ollama, LM Studio, …). */
export const compatible: Dialect = {
  maxTokensField: "max_tokens",
  reasoningEffort: true,
  metadata: false,
  replayReasoning: false,
  streamUsage: true,
  imageModels: ["gpt-image-*", "dall-e-*", "chatgpt-image-*"],
  speechModels: ["tts-*", "gpt-4o-mini-tts*", "gpt-*-tts*"],
  transcriptionModels: ["whisper-*", "*-transcribe", "*-transcribe-*"],
}

/** Provider `options:` may override any dialect field, e.g. `options: { maxTokensField: max_tokens }`. */
export const Overrides = Schema.partialWith(Dialect, { exact: true })
