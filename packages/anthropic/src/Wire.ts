/**
 * The Anthropic Messages wire format as effect/Schema: one set of schemas for both directions.
 * The ingress decodes client requests with them; the provider decodes upstream responses and
 * stream events with them; both build outgoing bodies typed by them (`typeof X.Type`).
 * Field names are Anthropic's (snake_case) on purpose.
 */
import * as Schema from "effect/Schema"
import { ModelId, Params } from "@sluice/core"

const Opaque = Schema.optional(Schema.Unknown)

// ---- content blocks (request and response share them) ------------------------------------

export const TextBlock = Schema.Struct({
  type: Schema.Literal("text"),
  text: Schema.String,
  cache_control: Opaque,
  citations: Opaque,
})
export type TextBlock = typeof TextBlock.Type

export const Base64Source = Schema.Struct({
  type: Schema.Literal("base64"),
  media_type: Schema.String,
  data: Schema.String,
})
export const UrlSource = Schema.Struct({ type: Schema.Literal("url"), url: Schema.String })
export const FileSource = Schema.Struct({ type: Schema.Literal("file"), file_id: Schema.String })
/** Plain-text documents (`document` blocks only). */
export const TextSource = Schema.Struct({
  type: Schema.Literal("text"),
  media_type: Schema.String,
  data: Schema.String,
})

export const ImageBlock = Schema.Struct({
  type: Schema.Literal("image"),
  source: Schema.Union(Base64Source, UrlSource, FileSource),
  cache_control: Opaque,
})
export type ImageBlock = typeof ImageBlock.Type

export const DocumentBlock = Schema.Struct({
  type: Schema.Literal("document"),
  source: Schema.Union(Base64Source, UrlSource, TextSource, FileSource),
  title: Schema.optional(Schema.NullOr(Schema.String)),
  context: Schema.optional(Schema.NullOr(Schema.String)),
  citations: Opaque,
  cache_control: Opaque,
})
export type DocumentBlock = typeof DocumentBlock.Type

export const ToolUseBlock = Schema.Struct({
  type: Schema.Literal("tool_use"),
  id: Schema.String,
  name: Schema.String,
  input: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  cache_control: Opaque,
})
export type ToolUseBlock = typeof ToolUseBlock.Type

export const ToolResultBlock = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  content: Schema.optional(
    Schema.Union(Schema.String, Schema.Array(Schema.Union(TextBlock, ImageBlock, DocumentBlock))),
  ),
  is_error: Schema.optional(Schema.Boolean),
  cache_control: Opaque,
})
export type ToolResultBlock = typeof ToolResultBlock.Type

export const ThinkingBlock = Schema.Struct({
  type: Schema.Literal("thinking"),
  thinking: Schema.String,
  signature: Schema.String,
})
export type ThinkingBlock = typeof ThinkingBlock.Type

export const RedactedThinkingBlock = Schema.Struct({
  type: Schema.Literal("redacted_thinking"),
  data: Schema.String,
})
export type RedactedThinkingBlock = typeof RedactedThinkingBlock.Type

export const ContentBlockParam = Schema.Union(
  TextBlock,
  ImageBlock,
  DocumentBlock,
  ToolUseBlock,
  ToolResultBlock,
  ThinkingBlock,
  RedactedThinkingBlock,
)
export type ContentBlockParam = typeof ContentBlockParam.Type

export const MessageParam = Schema.Struct({
  role: Schema.Literal("user", "assistant"),
  content: Schema.Union(Schema.String, Schema.Array(ContentBlockParam)),
})
export type MessageParam = typeof MessageParam.Type

// ---- tools -------------------------------------------------------------------------------

/** A client tool. `input_schema` is kept whole (it is JSON Schema); only its type is checked. */
export const CustomTool = Schema.Struct({
  type: Schema.optional(Schema.NullOr(Schema.Literal("custom"))),
  name: Schema.String,
  description: Schema.optional(Schema.String),
  input_schema: Schema.Struct(
    { type: Schema.Literal("object") },
    Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  ),
  strict: Schema.optional(Schema.Boolean),
  cache_control: Opaque,
})
export type CustomTool = typeof CustomTool.Type

/** A server tool (`web_search_20250305`, `bash_20250124`, …): passed through as given. */
export const ServerTool = Schema.Struct(
  { type: Schema.String, name: Schema.String },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)
export type ServerTool = typeof ServerTool.Type

export const ToolChoice = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("auto", "any"),
    disable_parallel_tool_use: Schema.optional(Schema.Boolean),
  }),
  Schema.Struct({
    type: Schema.Literal("tool"),
    name: Schema.String,
    disable_parallel_tool_use: Schema.optional(Schema.Boolean),
  }),
  Schema.Struct({ type: Schema.Literal("none") }),
)
export type ToolChoice = typeof ToolChoice.Type

export const ThinkingConfig = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("enabled"),
    budget_tokens: Schema.Number.pipe(Schema.int(), Schema.greaterThanOrEqualTo(1024)),
  }),
  Schema.Struct({ type: Schema.Literal("disabled") }),
  Schema.Struct({ type: Schema.Literal("adaptive") }),
)
export type ThinkingConfig = typeof ThinkingConfig.Type

export const SystemParam = Schema.Union(Schema.String, Schema.Array(TextBlock))

// ---- requests ----------------------------------------------------------------------------

const requestFields = {
  model: ModelId.ModelIdSchema,
  messages: Schema.Array(MessageParam),
  system: Schema.optional(SystemParam),
  /** Required by Messages; checked by the ingress so count_tokens can share the schema. */
  max_tokens: Schema.optional(Params.TokenLimit),
  stop_sequences: Schema.optional(Schema.Array(Schema.String)),
  stream: Schema.optional(Schema.Boolean),
  temperature: Schema.optional(Params.Temperature(1)),
  top_p: Schema.optional(Params.TopP),
  top_k: Schema.optional(Params.TopK),
  tools: Schema.optional(Schema.Array(Schema.Union(CustomTool, ServerTool))),
  tool_choice: Schema.optional(ToolChoice),
  thinking: Schema.optional(ThinkingConfig),
  metadata: Schema.optional(Schema.Struct({ user_id: Schema.optional(Schema.NullOr(Schema.String)) })),
}

export const MessagesRequest = Schema.Struct(requestFields)
export type MessagesRequest = typeof MessagesRequest.Type

/** The keys the codec maps; any other top-level key passes through in `extras.anthropic`. */
export const knownRequestKeys: ReadonlySet<string> = new Set(Object.keys(requestFields))

/** Fields count_tokens accepts (it rejects the sampling ones). */
export const countTokensKeys: ReadonlyArray<string> = [
  "model",
  "messages",
  "system",
  "tools",
  "tool_choice",
  "thinking",
  "mcp_servers",
  "context_management",
  "output_config",
]

// ---- responses ---------------------------------------------------------------------------

export const Usage = Schema.Struct({
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  cache_creation_input_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
  cache_read_input_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
  output_tokens_details: Schema.optional(
    Schema.NullOr(Schema.Struct({ thinking_tokens: Schema.optional(Schema.NullOr(Schema.Number)) })),
  ),
})
export type Usage = typeof Usage.Type

/** A block type this codec does not map (server tool blocks, …): read past, never dropped silently upstream. */
export const OtherBlock = Schema.Struct({ type: Schema.String })

export const ResponseBlock = Schema.Union(TextBlock, ThinkingBlock, RedactedThinkingBlock, ToolUseBlock, OtherBlock)
export type ResponseBlock = typeof ResponseBlock.Type

export const StopReason = Schema.Literal(
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "pause_turn",
  "refusal",
  "model_context_window_exceeded",
)
export type StopReason = typeof StopReason.Type

export const Message = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("message"),
  role: Schema.Literal("assistant"),
  model: Schema.String,
  content: Schema.Array(ResponseBlock),
  stop_reason: Schema.NullOr(Schema.String),
  stop_sequence: Schema.optional(Schema.NullOr(Schema.String)),
  usage: Usage,
})
export type Message = typeof Message.Type

export const CountTokensResponse = Schema.Struct({ input_tokens: Schema.Number })

export const ModelInfo = Schema.Struct({
  type: Schema.Literal("model"),
  id: Schema.String,
  display_name: Schema.String,
  created_at: Schema.String,
})
export type ModelInfo = typeof ModelInfo.Type

export const ModelList = Schema.Struct({
  data: Schema.Array(ModelInfo),
  has_more: Schema.Boolean,
  first_id: Schema.NullOr(Schema.String),
  last_id: Schema.NullOr(Schema.String),
})
export type ModelList = typeof ModelList.Type

// ---- errors ------------------------------------------------------------------------------

export const ErrorBody = Schema.Struct({
  type: Schema.Literal("error"),
  error: Schema.Struct({ type: Schema.String, message: Schema.String }),
})
export type ErrorBody = typeof ErrorBody.Type

// ---- stream events -----------------------------------------------------------------------

export const MessageStart = Schema.Struct({ type: Schema.Literal("message_start"), message: Message })

export const ContentBlockStart = Schema.Struct({
  type: Schema.Literal("content_block_start"),
  index: Schema.Number,
  content_block: ResponseBlock,
})

export const TextDelta = Schema.Struct({ type: Schema.Literal("text_delta"), text: Schema.String })
export const InputJsonDelta = Schema.Struct({ type: Schema.Literal("input_json_delta"), partial_json: Schema.String })
export const ThinkingDelta = Schema.Struct({ type: Schema.Literal("thinking_delta"), thinking: Schema.String })
export const SignatureDelta = Schema.Struct({ type: Schema.Literal("signature_delta"), signature: Schema.String })
export const CitationsDelta = Schema.Struct({ type: Schema.Literal("citations_delta"), citation: Schema.Unknown })

export const ContentBlockDelta = Schema.Struct({
  type: Schema.Literal("content_block_delta"),
  index: Schema.Number,
  delta: Schema.Union(TextDelta, InputJsonDelta, ThinkingDelta, SignatureDelta, CitationsDelta),
})

export const ContentBlockStop = Schema.Struct({ type: Schema.Literal("content_block_stop"), index: Schema.Number })

export const MessageDelta = Schema.Struct({
  type: Schema.Literal("message_delta"),
  delta: Schema.Struct({
    stop_reason: Schema.NullOr(Schema.String),
    stop_sequence: Schema.optional(Schema.NullOr(Schema.String)),
  }),
  usage: Schema.Struct({
    output_tokens: Schema.Number,
    input_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
    cache_creation_input_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
    cache_read_input_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
  }),
})

export const MessageStop = Schema.Struct({ type: Schema.Literal("message_stop") })
export const Ping = Schema.Struct({ type: Schema.Literal("ping") })

export const StreamEvent = Schema.Union(
  MessageStart,
  ContentBlockStart,
  ContentBlockDelta,
  ContentBlockStop,
  MessageDelta,
  MessageStop,
  Ping,
  ErrorBody,
)
export type StreamEvent = typeof StreamEvent.Type
