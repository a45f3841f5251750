/**
 * The canonical chat request and response. Wire codecs decode into these and encode out of
 * them; nothing here is shaped like any one provider.
 */
import * as Schema from "effect/Schema"
import { Part } from "./Parts.ts"

export const Role = Schema.Literal("system", "user", "assistant", "tool")
export type Role = typeof Role.Type

/**
 * A turn. `system` turns may appear anywhere (OpenAI developer messages); providers that take
 * one system prompt gather them. `tool` turns hold tool_result parts; providers must also accept
 * tool_result parts inside `user` turns (Gemini and Anthropic put them there).
 */
export const Message = Schema.Struct({
  role: Role,
  parts: Schema.Array(Part),
  /** Optional participant name (OpenAI `name`). */
  name: Schema.optional(Schema.String),
})
export type Message = typeof Message.Type

export const Tool = Schema.Struct({
  name: Schema.String,
  description: Schema.optional(Schema.String),
  /** JSON Schema of the arguments object, as the client gave it. */
  parameters: Schema.optional(Schema.Unknown),
  strict: Schema.optional(Schema.Boolean),
})
export type Tool = typeof Tool.Type

/**
 * auto: the model decides; none: no tool calls; required: at least one call.
 * `allowed` narrows which tools may be called (Gemini allowedFunctionNames; a single name with
 * `required` is OpenAI's/Anthropic's "this tool").
 */
export const ToolChoice = Schema.Struct({
  mode: Schema.Literal("auto", "none", "required"),
  allowed: Schema.optional(Schema.Array(Schema.String)),
})
export type ToolChoice = typeof ToolChoice.Type

export const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    name: Schema.optional(Schema.String),
    schema: Schema.Unknown,
    strict: Schema.optional(Schema.Boolean),
  }),
)
export type ResponseFormat = typeof ResponseFormat.Type

export const ReasoningEffort = Schema.Literal("none", "minimal", "low", "medium", "high")
export type ReasoningEffort = typeof ReasoningEffort.Type

export const ReasoningConfig = Schema.Struct({
  effort: Schema.optional(ReasoningEffort),
  budgetTokens: Schema.optional(Schema.Number),
  /** Return the model's thoughts (Gemini includeThoughts; Anthropic thinking blocks). */
  includeThoughts: Schema.optional(Schema.Boolean),
})
export type ReasoningConfig = typeof ReasoningConfig.Type

/**
 * Fields of a wire format with no canonical home, keyed by the wire format's name
 * ("gemini" | "openai" | "anthropic"). A provider of that format sends them on unchanged;
 * other providers ignore them.
 */
export const WireExtras = Schema.Record({
  key: Schema.String,
  value: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
})
export type WireExtras = typeof WireExtras.Type

export const Modality = Schema.Literal("text", "image", "audio", "video")
export type Modality = typeof Modality.Type

/** What a drawing model is asked for (Gemini imageConfig; OpenAI images' n/size reduced). */
export const ImageOutput = Schema.Struct({
  /** `W:H` (Gemini aspectRatio). */
  aspectRatio: Schema.optional(Schema.String),
  /** `1K` | `2K` | `4K` (Gemini imageSize). */
  size: Schema.optional(Schema.String),
  /** Images wanted (OpenAI n); providers that draw one per call fan out. */
  count: Schema.optional(Schema.Number),
})
export type ImageOutput = typeof ImageOutput.Type

/** What a speaking model is asked for (OpenAI speech's voice and response_format). */
export const AudioOutput = Schema.Struct({
  /** A voice name: OpenAI's (`alloy`, …) or the provider's own (Gemini `Kore`); providers map them. */
  voice: Schema.optional(Schema.String),
  /** `mp3` | `opus` | `aac` | `flac` | `wav` | `pcm` (24 kHz 16-bit mono); a provider that cannot give it refuses. */
  format: Schema.optional(Schema.String),
})
export type AudioOutput = typeof AudioOutput.Type

/** What a video model is asked for (Veo's parameters; OpenAI videos' seconds and size reduced). */
export const VideoOutput = Schema.Struct({
  durationSeconds: Schema.optional(Schema.Number),
  /** `16:9` | `9:16`. */
  aspectRatio: Schema.optional(Schema.String),
  /** `720p` | `1080p` | `4k`. */
  resolution: Schema.optional(Schema.String),
})
export type VideoOutput = typeof VideoOutput.Type

/** The kinds of output asked for (Gemini responseModalities, OpenAI modalities / images / audio endpoints). */
export const OutputConfig = Schema.Struct({
  modalities: Schema.optional(Schema.Array(Modality)),
  image: Schema.optional(ImageOutput),
  audio: Schema.optional(AudioOutput),
  video: Schema.optional(VideoOutput),
})
export type OutputConfig = typeof OutputConfig.Type

/** True when the request asks for image output. */
export const wantsImages = (request: { readonly output?: OutputConfig | undefined }): boolean =>
  request.output?.modalities?.includes("image") === true

export const ChatRequest = Schema.Struct({
  /** The model id the client named (before routing) or the upstream model (after). */
  model: Schema.String,
  messages: Schema.Array(Message),
  tools: Schema.optional(Schema.Array(Tool)),
  toolChoice: Schema.optional(ToolChoice),
  parallelToolCalls: Schema.optional(Schema.Boolean),
  maxTokens: Schema.optional(Schema.Number),
  temperature: Schema.optional(Schema.Number),
  topP: Schema.optional(Schema.Number),
  topK: Schema.optional(Schema.Number),
  stop: Schema.optional(Schema.Array(Schema.String)),
  seed: Schema.optional(Schema.Number),
  /** Number of candidates (OpenAI n, Gemini candidateCount). */
  candidates: Schema.optional(Schema.Number),
  presencePenalty: Schema.optional(Schema.Number),
  frequencyPenalty: Schema.optional(Schema.Number),
  reasoning: Schema.optional(ReasoningConfig),
  responseFormat: Schema.optional(ResponseFormat),
  /** End-user id for abuse tracking (OpenAI user, Anthropic metadata.user_id). */
  user: Schema.optional(Schema.String),
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  stream: Schema.Boolean,
  /** Output modalities and image options; absent = text. */
  output: Schema.optional(OutputConfig),
  extras: Schema.optional(WireExtras),
})
export type ChatRequest = typeof ChatRequest.Type

export const FinishReason = Schema.Literal(
  "stop",
  "length",
  "stop_sequence",
  "tool_calls",
  "content_filter",
  "refusal",
  "error",
  "other",
)
export type FinishReason = typeof FinishReason.Type

/**
 * Token usage, normalised: `inputTokens` counts the whole prompt (cache reads and cache writes
 * included, as OpenAI's prompt_tokens and Gemini's promptTokenCount do; the Anthropic codec adds
 * its cache_* counts in), `outputTokens` counts all output (reasoning included, as OpenAI's
 * completion_tokens does; the Gemini codec adds thoughtsTokenCount in).
 */
export const Usage = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  /** Of outputTokens, how many were reasoning. */
  reasoningTokens: Schema.optional(Schema.Number),
  /** Of inputTokens, how many were read from a prompt cache. */
  cachedInputTokens: Schema.optional(Schema.Number),
  /** Tokens written to a prompt cache (Anthropic cache_creation_input_tokens). */
  cacheCreationInputTokens: Schema.optional(Schema.Number),
})
export type Usage = typeof Usage.Type

export const ChatResponse = Schema.Struct({
  id: Schema.String,
  /** The model that answered (upstream's name). */
  model: Schema.String,
  parts: Schema.Array(Part),
  finishReason: FinishReason,
  /** The stop sequence that ended the answer, when the provider says which. */
  stopSequence: Schema.optional(Schema.String),
  usage: Usage,
  /** Unix seconds. */
  created: Schema.Number,
  extras: Schema.optional(WireExtras),
})
export type ChatResponse = typeof ChatResponse.Type

export const emptyUsage: Usage = { inputTokens: 0, outputTokens: 0 }
