/**
 * The OpenAI wire format (chat completions, embeddings, models, errors) as effect/Schema.
 * One set of schemas serves both directions: the ingress decodes client requests and builds
 * responses/chunks of these types; the provider builds requests of these types and decodes
 * upstream responses/chunks. Fields are lenient where real servers differ (nulls, missing
 * `object`), strict where a client's mistake must be named.
 */
import * as Schema from "effect/Schema"
import { ModelId, Params } from "@sluice/core"

const Nullable = <S extends Schema.Schema.Any>(s: S) => Schema.optional(Schema.NullOr(s))

// ---- request --------------------------------------------------------------------------------

export const TextContent = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
export type TextContent = typeof TextContent.Type

export const ImageUrlContent = Schema.Struct({
  type: Schema.Literal("image_url"),
  image_url: Schema.Struct({
    /** An http(s) URL or a `data:<mime>;base64,…` URL. */
    url: Schema.String,
    detail: Schema.optional(Schema.Literal("auto", "low", "high")),
  }),
})
export type ImageUrlContent = typeof ImageUrlContent.Type

export const InputAudioContent = Schema.Struct({
  type: Schema.Literal("input_audio"),
  input_audio: Schema.Struct({ data: Schema.String, format: Schema.String }),
})
export type InputAudioContent = typeof InputAudioContent.Type

export const FileContent = Schema.Struct({
  type: Schema.Literal("file"),
  file: Schema.Struct({
    /** A `data:<mime>;base64,…` URL. */
    file_data: Schema.optional(Schema.String),
    file_id: Schema.optional(Schema.String),
    filename: Schema.optional(Schema.String),
  }),
})
export type FileContent = typeof FileContent.Type

export const RefusalContent = Schema.Struct({ type: Schema.Literal("refusal"), refusal: Schema.String })

export const UserContentPart = Schema.Union(TextContent, ImageUrlContent, InputAudioContent, FileContent)
export type UserContentPart = typeof UserContentPart.Type

/**
 * Google's OpenAI-compatible endpoint returns a call's Gemini thought signature here, and
 * takes it back here (`extra_content.google.thought_signature`).
 */
export const ExtraContent = Schema.Struct({
  google: Schema.optional(Schema.Struct({ thought_signature: Schema.optional(Schema.String) })),
})
export type ExtraContent = typeof ExtraContent.Type

export const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String }),
  extra_content: Schema.optional(ExtraContent),
})
export type ToolCall = typeof ToolCall.Type

const TextOnly = Schema.Union(Schema.String, Schema.Array(TextContent))

export const SystemMessage = Schema.Struct({
  role: Schema.Literal("system", "developer"),
  content: TextOnly,
  name: Schema.optional(Schema.String),
})
export const UserMessage = Schema.Struct({
  role: Schema.Literal("user"),
  content: Schema.Union(Schema.String, Schema.Array(UserContentPart)),
  name: Schema.optional(Schema.String),
})
export const AssistantMessage = Schema.Struct({
  role: Schema.Literal("assistant"),
  content: Nullable(Schema.Union(Schema.String, Schema.Array(Schema.Union(TextContent, RefusalContent)))),
  tool_calls: Nullable(Schema.Array(ToolCall)),
  refusal: Nullable(Schema.String),
  name: Schema.optional(Schema.String),
  /** Non-standard (DeepSeek and others): the model's reasoning, as some clients send it back. */
  reasoning_content: Nullable(Schema.String),
})
export const ToolMessage = Schema.Struct({
  role: Schema.Literal("tool"),
  tool_call_id: Schema.String,
  content: TextOnly,
})
export const Message = Schema.Union(SystemMessage, UserMessage, AssistantMessage, ToolMessage)
export type Message = typeof Message.Type

export const FunctionTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    description: Schema.optional(Schema.String),
    parameters: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    strict: Nullable(Schema.Boolean),
  }),
})
export type FunctionTool = typeof FunctionTool.Type

const NamedFunction = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({ name: Schema.String }),
})

export const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  NamedFunction,
  Schema.Struct({
    type: Schema.Literal("allowed_tools"),
    allowed_tools: Schema.Struct({ mode: Schema.Literal("auto", "required"), tools: Schema.Array(NamedFunction) }),
  }),
)
export type ToolChoice = typeof ToolChoice.Type

export const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    json_schema: Schema.Struct({
      name: Schema.String,
      description: Schema.optional(Schema.String),
      schema: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
      strict: Nullable(Schema.Boolean),
    }),
  }),
)
export type ResponseFormat = typeof ResponseFormat.Type

export const ReasoningEffort = Schema.Literal("none", "minimal", "low", "medium", "high", "xhigh", "max")

/** The fields this codec understands; anything else is carried as `extras.openai`. */
export const ChatCompletionRequest = Schema.Struct({
  model: ModelId.ModelIdSchema,
  messages: Schema.Array(Message),
  tools: Nullable(Schema.Array(FunctionTool)),
  tool_choice: Nullable(ToolChoice),
  parallel_tool_calls: Nullable(Schema.Boolean),
  response_format: Nullable(ResponseFormat),
  max_tokens: Nullable(Params.TokenLimit),
  max_completion_tokens: Nullable(Params.TokenLimit),
  temperature: Nullable(Params.Temperature(2)),
  top_p: Nullable(Params.TopP),
  stop: Nullable(Schema.Union(Schema.String, Schema.Array(Schema.String))),
  seed: Nullable(Schema.Number),
  n: Nullable(Schema.Number),
  presence_penalty: Nullable(Params.Penalty),
  frequency_penalty: Nullable(Params.Penalty),
  reasoning_effort: Nullable(ReasoningEffort),
  user: Nullable(Schema.String),
  metadata: Nullable(Schema.Record({ key: Schema.String, value: Schema.String })),
  stream: Nullable(Schema.Boolean),
  stream_options: Nullable(
    Schema.Struct({
      include_usage: Schema.optional(Schema.Boolean),
      include_obfuscation: Schema.optional(Schema.Boolean),
    }),
  ),
})
export type ChatCompletionRequest = typeof ChatCompletionRequest.Type
export const requestFields: ReadonlySet<string> = new Set(Object.keys(ChatCompletionRequest.fields))

// ---- response -------------------------------------------------------------------------------

export const Usage = Schema.Struct({
  prompt_tokens: Schema.Number,
  completion_tokens: Schema.Number,
  total_tokens: Schema.Number,
  prompt_tokens_details: Nullable(
    Schema.Struct({ cached_tokens: Nullable(Schema.Number), audio_tokens: Nullable(Schema.Number) }),
  ),
  completion_tokens_details: Nullable(
    Schema.Struct({ reasoning_tokens: Nullable(Schema.Number), audio_tokens: Nullable(Schema.Number) }),
  ),
  /** DeepSeek's cache accounting (its prompt_tokens = hit + miss). */
  prompt_cache_hit_tokens: Schema.optional(Schema.Number),
  prompt_cache_miss_tokens: Schema.optional(Schema.Number),
})
export type Usage = typeof Usage.Type

/**
 * An image a model drew, in the chat-completions form OpenRouter and LiteLLM use (OpenAI's chat
 * API has none): a data: URL in `message.images` / `delta.images`.
 */
export const OutputImage = Schema.Struct({
  type: Schema.Literal("image_url"),
  image_url: Schema.Struct({ url: Schema.String }),
  index: Schema.optional(Schema.Number),
})
export type OutputImage = typeof OutputImage.Type

export const ResponseMessage = Schema.Struct({
  role: Schema.Literal("assistant"),
  content: Nullable(Schema.String),
  refusal: Nullable(Schema.String),
  tool_calls: Nullable(Schema.Array(ToolCall)),
  /** DeepSeek; what an ingress sends when the canonical answer carries reasoning. */
  reasoning_content: Nullable(Schema.String),
  /** vLLM / Ollama name for the same thing. */
  reasoning: Nullable(Schema.String),
  images: Nullable(Schema.Array(OutputImage)),
})
export type ResponseMessage = typeof ResponseMessage.Type

export const FinishReason = Schema.Literal("stop", "length", "tool_calls", "content_filter", "function_call")
export type FinishReason = typeof FinishReason.Type

export const Choice = Schema.Struct({
  index: Schema.Number,
  message: ResponseMessage,
  /** A string: compatible servers send values outside the official set ("eos", "abort"). */
  finish_reason: Schema.NullOr(Schema.String),
  logprobs: Nullable(Schema.Unknown),
})

export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.optional(Schema.Literal("chat.completion")),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(Choice),
  usage: Nullable(Usage),
  system_fingerprint: Nullable(Schema.String),
})
export type ChatCompletion = typeof ChatCompletion.Type

// ---- stream ---------------------------------------------------------------------------------

export const ToolCallFragment = Schema.Struct({
  index: Schema.Number,
  id: Nullable(Schema.String),
  type: Nullable(Schema.Literal("function")),
  function: Nullable(Schema.Struct({ name: Nullable(Schema.String), arguments: Nullable(Schema.String) })),
  extra_content: Schema.optional(ExtraContent),
})
export type ToolCallFragment = typeof ToolCallFragment.Type

export const Delta = Schema.Struct({
  role: Nullable(Schema.String),
  content: Nullable(Schema.String),
  refusal: Nullable(Schema.String),
  reasoning_content: Nullable(Schema.String),
  reasoning: Nullable(Schema.String),
  tool_calls: Nullable(Schema.Array(ToolCallFragment)),
  images: Nullable(Schema.Array(OutputImage)),
})
export type Delta = typeof Delta.Type

export const ChunkChoice = Schema.Struct({
  index: Schema.Number,
  delta: Delta,
  finish_reason: Nullable(Schema.String),
  logprobs: Nullable(Schema.Unknown),
})

export const ChatCompletionChunk = Schema.Struct({
  id: Schema.String,
  object: Schema.optional(Schema.Literal("chat.completion.chunk")),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(ChunkChoice),
  /** null on every chunk when include_usage was asked, set on the final `choices: []` chunk. */
  usage: Nullable(Usage),
  system_fingerprint: Nullable(Schema.String),
})
export type ChatCompletionChunk = typeof ChatCompletionChunk.Type

// ---- errors ---------------------------------------------------------------------------------

export const ErrorObject = Schema.Struct({
  message: Schema.String,
  type: Schema.String,
  param: Schema.NullOr(Schema.String),
  code: Schema.NullOr(Schema.String),
})
export type ErrorObject = typeof ErrorObject.Type
export const ErrorBody = Schema.Struct({ error: ErrorObject })
export type ErrorBody = typeof ErrorBody.Type

// ---- embeddings and models ------------------------------------------------------------------

export const EmbeddingRequest = Schema.Struct({
  model: ModelId.ModelIdSchema,
  /** Token arrays are part of the format; this gateway serves text only and says so. */
  input: Schema.Union(
    Schema.String,
    Schema.Array(Schema.String),
    Schema.Array(Schema.Number),
    Schema.Array(Schema.Array(Schema.Number)),
  ),
  dimensions: Nullable(Schema.Number),
  encoding_format: Nullable(Schema.Literal("float", "base64")),
  user: Nullable(Schema.String),
})
export type EmbeddingRequest = typeof EmbeddingRequest.Type
export const embeddingFields: ReadonlySet<string> = new Set(Object.keys(EmbeddingRequest.fields))

export const Embedding = Schema.Struct({
  object: Schema.optional(Schema.Literal("embedding")),
  index: Schema.Number,
  /** Floats, or base64 of little-endian float32 when `encoding_format: "base64"`. */
  embedding: Schema.Union(Schema.Array(Schema.Number), Schema.String),
})

export const EmbeddingResponse = Schema.Struct({
  object: Schema.optional(Schema.Literal("list")),
  data: Schema.Array(Embedding),
  model: Schema.String,
  usage: Schema.optional(Schema.Struct({ prompt_tokens: Schema.Number, total_tokens: Schema.Number })),
})
export type EmbeddingResponse = typeof EmbeddingResponse.Type

export const Model = Schema.Struct({
  id: Schema.String,
  object: Schema.optional(Schema.Literal("model")),
  created: Schema.optional(Schema.Number),
  owned_by: Schema.optional(Schema.String),
})
export type Model = typeof Model.Type

export const ModelList = Schema.Struct({ object: Schema.optional(Schema.Literal("list")), data: Schema.Array(Model) })
export type ModelList = typeof ModelList.Type
