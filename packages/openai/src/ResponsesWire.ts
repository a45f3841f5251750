/**
 * The Responses API wire format (`POST /v1/responses`). Requests are decoded with these
 * Schemas; responses and stream events are built as these types. Sluice serves it at the
 * ingress only (providers speak chat completions upstream), so one direction each.
 */
import * as Schema from "effect/Schema"
import { ModelId, Params } from "@sluice/core"
import { ReasoningEffort } from "./Wire.ts"

const Nullable = <S extends Schema.Schema.Any>(s: S) => Schema.optional(Schema.NullOr(s))

// ---- request --------------------------------------------------------------------------------

export const InputText = Schema.Struct({ type: Schema.Literal("input_text"), text: Schema.String })
export const InputImage = Schema.Struct({
  type: Schema.Literal("input_image"),
  image_url: Nullable(Schema.String),
  file_id: Nullable(Schema.String),
  detail: Schema.optional(Schema.String),
})
export const InputFile = Schema.Struct({
  type: Schema.Literal("input_file"),
  /** A `data:<mime>;base64,…` URL. */
  file_data: Schema.optional(Schema.String),
  file_id: Nullable(Schema.String),
  file_url: Schema.optional(Schema.String),
  filename: Schema.optional(Schema.String),
})
export const OutputText = Schema.Struct({
  type: Schema.Literal("output_text"),
  text: Schema.String,
  annotations: Schema.optional(Schema.Array(Schema.Unknown)),
})
export const Refusal = Schema.Struct({ type: Schema.Literal("refusal"), refusal: Schema.String })

export const InputContent = Schema.Union(InputText, InputImage, InputFile)
export type InputContent = typeof InputContent.Type
export const MessageContent = Schema.Union(InputText, InputImage, InputFile, OutputText, Refusal)
export type MessageContent = typeof MessageContent.Type

export const MessageItem = Schema.Struct({
  type: Schema.optional(Schema.Literal("message")),
  role: Schema.Literal("user", "assistant", "system", "developer"),
  content: Schema.Union(Schema.String, Schema.Array(MessageContent)),
  id: Schema.optional(Schema.String),
  status: Schema.optional(Schema.String),
})
export const FunctionCallItem = Schema.Struct({
  type: Schema.Literal("function_call"),
  call_id: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  id: Schema.optional(Schema.String),
  status: Schema.optional(Schema.String),
})
export const FunctionCallOutputItem = Schema.Struct({
  type: Schema.Literal("function_call_output"),
  call_id: Schema.String,
  output: Schema.Union(Schema.String, Schema.Array(InputContent)),
  id: Nullable(Schema.String),
  status: Nullable(Schema.String),
})
export const SummaryText = Schema.Struct({ type: Schema.Literal("summary_text"), text: Schema.String })
export const ReasoningText = Schema.Struct({ type: Schema.Literal("reasoning_text"), text: Schema.String })
export const ReasoningItem = Schema.Struct({
  type: Schema.Literal("reasoning"),
  id: Schema.optional(Schema.String),
  summary: Schema.Array(SummaryText),
  content: Nullable(Schema.Array(ReasoningText)),
  /** Where Sluice keeps the reasoning's signature (Anthropic/Gemini) for the round trip. */
  encrypted_content: Nullable(Schema.String),
  status: Schema.optional(Schema.String),
})

/** An image the model drew (the image_generation tool's output item), sent back as history. */
export const ImageGenerationCallItem = Schema.Struct({
  type: Schema.Literal("image_generation_call"),
  id: Schema.optional(Schema.String),
  status: Schema.optional(Schema.String),
  result: Nullable(Schema.String),
  output_format: Schema.optional(Schema.String),
})

export const InputItem = Schema.Union(
  MessageItem,
  FunctionCallItem,
  FunctionCallOutputItem,
  ReasoningItem,
  ImageGenerationCallItem,
)
export type InputItem = typeof InputItem.Type

/** An item of an earlier stored response (or of its input), by id; `type` may be left out. */
export const ItemReference = Schema.Struct({
  type: Nullable(Schema.Literal("item_reference")),
  id: Schema.String,
})
export type ItemReference = typeof ItemReference.Type

/** What a request's `input` array may hold: items, or references the gateway resolves. */
export const RequestItem = Schema.Union(
  MessageItem,
  FunctionCallItem,
  FunctionCallOutputItem,
  ReasoningItem,
  ImageGenerationCallItem,
  ItemReference,
)
export type RequestItem = typeof RequestItem.Type

export const inputItemTypes: ReadonlySet<string> = new Set([
  "message",
  "function_call",
  "function_call_output",
  "reasoning",
  "image_generation_call",
  "item_reference",
])

export const FunctionTool = Schema.Struct({
  type: Schema.Literal("function"),
  name: Schema.String,
  description: Nullable(Schema.String),
  parameters: Nullable(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  strict: Nullable(Schema.Boolean),
})
export type FunctionTool = typeof FunctionTool.Type

/** The built-in image tool: any route whose model draws answers with image_generation_call items. */
export const ImageGenerationTool = Schema.Struct({
  type: Schema.Literal("image_generation"),
  size: Nullable(Schema.String),
  quality: Nullable(Schema.String),
  output_format: Nullable(Schema.String),
  background: Nullable(Schema.String),
  model: Nullable(Schema.String),
})
export type ImageGenerationTool = typeof ImageGenerationTool.Type

export const Tool = Schema.Union(FunctionTool, ImageGenerationTool)
export type Tool = typeof Tool.Type

const NamedFunction = Schema.Struct({ type: Schema.Literal("function"), name: Schema.String })
export const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  NamedFunction,
  Schema.Struct({
    type: Schema.Literal("allowed_tools"),
    mode: Schema.Literal("auto", "required"),
    tools: Schema.Array(NamedFunction),
  }),
)
export type ToolChoice = typeof ToolChoice.Type

export const TextFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    name: Schema.String,
    schema: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    description: Schema.optional(Schema.String),
    strict: Nullable(Schema.Boolean),
  }),
)
export type TextFormat = typeof TextFormat.Type

export const Reasoning = Schema.Struct({
  effort: Nullable(ReasoningEffort),
  summary: Nullable(Schema.String),
  generate_summary: Nullable(Schema.String),
})

export const ResponsesRequest = Schema.Struct({
  model: ModelId.ModelIdSchema,
  input: Schema.Union(Schema.String, Schema.Array(RequestItem)),
  instructions: Nullable(Schema.String),
  tools: Nullable(Schema.Array(Tool)),
  tool_choice: Nullable(ToolChoice),
  parallel_tool_calls: Nullable(Schema.Boolean),
  max_output_tokens: Nullable(Params.TokenLimit),
  temperature: Nullable(Params.Temperature(2)),
  top_p: Nullable(Params.TopP),
  reasoning: Nullable(Reasoning),
  text: Nullable(Schema.Struct({ format: Nullable(TextFormat), verbosity: Nullable(Schema.String) })),
  user: Nullable(Schema.String),
  safety_identifier: Nullable(Schema.String),
  metadata: Nullable(Schema.Record({ key: Schema.String, value: Schema.String })),
  stream: Nullable(Schema.Boolean),
  store: Nullable(Schema.Boolean),
  previous_response_id: Nullable(Schema.String),
  include: Nullable(Schema.Array(Schema.String)),
})
export type ResponsesRequest = typeof ResponsesRequest.Type
export const requestFields: ReadonlySet<string> = new Set(Object.keys(ResponsesRequest.fields))

// ---- response (built, never decoded) --------------------------------------------------------

export interface OutputTextPart {
  readonly type: "output_text"
  readonly text: string
  readonly annotations: ReadonlyArray<unknown>
  readonly logprobs: ReadonlyArray<unknown>
}

export interface MessageOutput {
  readonly type: "message"
  readonly id: string
  readonly status: "in_progress" | "completed" | "incomplete"
  readonly role: "assistant"
  readonly content: ReadonlyArray<OutputTextPart>
}

export interface FunctionCallOutput {
  readonly type: "function_call"
  readonly id: string
  readonly call_id: string
  readonly name: string
  readonly arguments: string
  readonly status: "in_progress" | "completed" | "incomplete"
}

export interface ReasoningOutput {
  readonly type: "reasoning"
  readonly id: string
  readonly summary: ReadonlyArray<{ readonly type: "summary_text"; readonly text: string }>
  readonly encrypted_content?: string
  readonly status?: "in_progress" | "completed" | "incomplete"
}

export interface ImageGenerationOutput {
  readonly type: "image_generation_call"
  readonly id: string
  readonly status: "in_progress" | "generating" | "completed" | "failed"
  /** Base64 image bytes. */
  readonly result: string | null
  readonly output_format?: string
}

export type OutputItem = MessageOutput | FunctionCallOutput | ReasoningOutput | ImageGenerationOutput

export interface Usage {
  readonly input_tokens: number
  readonly input_tokens_details: { readonly cached_tokens: number }
  readonly output_tokens: number
  readonly output_tokens_details: { readonly reasoning_tokens: number }
  readonly total_tokens: number
}

export type Status = "in_progress" | "completed" | "incomplete" | "failed"

export interface Response {
  readonly id: string
  readonly object: "response"
  readonly created_at: number
  readonly status: Status
  readonly error: { readonly code: string; readonly message: string } | null
  readonly incomplete_details: { readonly reason: "max_output_tokens" | "content_filter" } | null
  readonly instructions: string | null
  readonly max_output_tokens: number | null
  readonly model: string
  readonly output: ReadonlyArray<OutputItem>
  readonly parallel_tool_calls: boolean
  readonly previous_response_id: string | null
  readonly reasoning: { readonly effort: string | null; readonly summary: string | null }
  readonly store: boolean
  readonly temperature: number | null
  readonly text: { readonly format: TextFormat }
  readonly tool_choice: ToolChoice
  readonly tools: ReadonlyArray<Tool>
  readonly top_p: number | null
  readonly truncation: "disabled"
  readonly usage: Usage | null
  readonly user: string | null
  readonly metadata: Readonly<Record<string, string>>
}
