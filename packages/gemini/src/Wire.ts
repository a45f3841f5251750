/**
 * Gemini (generativelanguage v1beta) wire shapes as effect/Schema, written once and used by both
 * directions: the ingress decodes client requests with them, the provider decodes upstream
 * answers with them. Field names are the proto-JSON camelCase spellings; `Normalize` maps the
 * snake_case spellings Google also accepts onto these before decoding.
 *
 * Structs are open (excess properties are kept by the codec, not rejected here): Google adds
 * fields often, and whatever a Gemini upstream accepts must pass through.
 */
import * as Schema from "effect/Schema"
import { Params } from "@sluice/core"

const Obj = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const Blob = Schema.Struct({
  mimeType: Schema.String,
  data: Schema.String,
})

export const FileData = Schema.Struct({
  mimeType: Schema.optional(Schema.String),
  fileUri: Schema.String,
})

export const FunctionCall = Schema.Struct({
  id: Schema.optional(Schema.String),
  name: Schema.String,
  args: Schema.optional(Obj),
})

export const FunctionResponse = Schema.Struct({
  id: Schema.optional(Schema.String),
  name: Schema.String,
  response: Obj,
  parts: Schema.optional(
    Schema.Array(Schema.Struct({ inlineData: Schema.optional(Blob), fileData: Schema.optional(FileData) })),
  ),
  willContinue: Schema.optional(Schema.Boolean),
  scheduling: Schema.optional(Schema.String),
})

/** A Part is a oneof: exactly one data field (checked by the codec) plus metadata. */
export const Part = Schema.Struct({
  text: Schema.optional(Schema.String),
  inlineData: Schema.optional(Blob),
  fileData: Schema.optional(FileData),
  functionCall: Schema.optional(FunctionCall),
  functionResponse: Schema.optional(FunctionResponse),
  executableCode: Schema.optional(Obj),
  codeExecutionResult: Schema.optional(Obj),
  thought: Schema.optional(Schema.Boolean),
  thoughtSignature: Schema.optional(Schema.String),
  videoMetadata: Schema.optional(Obj),
  mediaResolution: Schema.optional(Schema.Unknown),
  partMetadata: Schema.optional(Obj),
})
export type Part = typeof Part.Type

export const Content = Schema.Struct({
  role: Schema.optional(Schema.String),
  parts: Schema.optionalWith(Schema.Array(Part), { default: () => [] }),
})
export type Content = typeof Content.Type

export const FunctionDeclaration = Schema.Struct({
  name: Schema.String,
  description: Schema.optional(Schema.String),
  parameters: Schema.optional(Obj),
  parametersJsonSchema: Schema.optional(Schema.Unknown),
  response: Schema.optional(Obj),
  responseJsonSchema: Schema.optional(Schema.Unknown),
  behavior: Schema.optional(Schema.String),
})
export type FunctionDeclaration = typeof FunctionDeclaration.Type

/** Function declarations are canonical; the other tool kinds (googleSearch, codeExecution, …) pass through. */
export const Tool = Schema.Struct({
  functionDeclarations: Schema.optional(Schema.Array(FunctionDeclaration)),
})
export type Tool = typeof Tool.Type

export const FunctionCallingMode = Schema.Literal("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED")

export const ToolConfig = Schema.Struct({
  functionCallingConfig: Schema.optional(
    Schema.Struct({
      mode: Schema.optional(FunctionCallingMode),
      allowedFunctionNames: Schema.optional(Schema.Array(Schema.String)),
    }),
  ),
})

const thinkingLevels = ["THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"] as const

/** Google's REST examples write levels in lowercase ("low"); the enum is uppercase. Both are taken. */
export const ThinkingLevel = Schema.transform(
  Schema.Literal(...thinkingLevels, "thinking_level_unspecified", "minimal", "low", "medium", "high"),
  Schema.Literal(...thinkingLevels),
  {
    strict: true,
    decode: (level) => level.toUpperCase() as (typeof thinkingLevels)[number],
    encode: (level) => level,
  },
)

export const ThinkingConfig = Schema.Struct({
  includeThoughts: Schema.optional(Schema.Boolean),
  thinkingBudget: Schema.optional(Schema.Number),
  thinkingLevel: Schema.optional(ThinkingLevel),
})

export const GenerationConfig = Schema.Struct({
  temperature: Schema.optional(Params.Temperature(2)),
  topP: Schema.optional(Params.TopP),
  topK: Schema.optional(Params.TopK),
  candidateCount: Schema.optional(Schema.Number),
  maxOutputTokens: Schema.optional(Params.TokenLimit),
  stopSequences: Schema.optional(Schema.Array(Schema.String)),
  seed: Schema.optional(Schema.Number),
  presencePenalty: Schema.optional(Schema.Number),
  frequencyPenalty: Schema.optional(Schema.Number),
  responseMimeType: Schema.optional(Schema.String),
  responseSchema: Schema.optional(Obj),
  responseJsonSchema: Schema.optional(Schema.Unknown),
  thinkingConfig: Schema.optional(ThinkingConfig),
  responseModalities: Schema.optional(Schema.Array(Schema.String)),
  imageConfig: Schema.optional(
    Schema.Struct({ aspectRatio: Schema.optional(Schema.String), imageSize: Schema.optional(Schema.String) }),
  ),
})
export type GenerationConfig = typeof GenerationConfig.Type

export const GenerateContentRequest = Schema.Struct({
  /** Present in countTokens' generateContentRequest and batch requests. */
  model: Schema.optional(Schema.String),
  contents: Schema.optionalWith(Schema.Array(Content), { default: () => [] }),
  systemInstruction: Schema.optional(Content),
  tools: Schema.optional(Schema.Array(Tool)),
  toolConfig: Schema.optional(ToolConfig),
  generationConfig: Schema.optional(GenerationConfig),
  safetySettings: Schema.optional(Schema.Array(Obj)),
  cachedContent: Schema.optional(Schema.String),
})
export type GenerateContentRequest = typeof GenerateContentRequest.Type

/** Top-level request fields the codec maps to canonical ones; every other field is an extra. */
export const canonicalRequestFields = new Set([
  "model",
  "contents",
  "systemInstruction",
  "tools",
  "toolConfig",
  "generationConfig",
])

// ---- responses --------------------------------------------------------------------------------

export const ModalityTokenCount = Schema.Struct({ modality: Schema.String, tokenCount: Schema.optional(Schema.Number) })

export const UsageMetadata = Schema.Struct({
  promptTokenCount: Schema.optional(Schema.Number),
  candidatesTokenCount: Schema.optional(Schema.Number),
  totalTokenCount: Schema.optional(Schema.Number),
  thoughtsTokenCount: Schema.optional(Schema.Number),
  cachedContentTokenCount: Schema.optional(Schema.Number),
  toolUsePromptTokenCount: Schema.optional(Schema.Number),
  promptTokensDetails: Schema.optional(Schema.Array(ModalityTokenCount)),
  candidatesTokensDetails: Schema.optional(Schema.Array(ModalityTokenCount)),
  cacheTokensDetails: Schema.optional(Schema.Array(ModalityTokenCount)),
})
export type UsageMetadata = typeof UsageMetadata.Type

export const Candidate = Schema.Struct({
  content: Schema.optional(Content),
  finishReason: Schema.optional(Schema.String),
  finishMessage: Schema.optional(Schema.String),
  index: Schema.optional(Schema.Number),
})
export type Candidate = typeof Candidate.Type

export const GenerateContentResponse = Schema.Struct({
  candidates: Schema.optional(Schema.Array(Candidate)),
  promptFeedback: Schema.optional(Schema.Struct({ blockReason: Schema.optional(Schema.String) })),
  usageMetadata: Schema.optional(UsageMetadata),
  modelVersion: Schema.optional(Schema.String),
  responseId: Schema.optional(Schema.String),
})
export type GenerateContentResponse = typeof GenerateContentResponse.Type

// ---- embeddings, countTokens, models ----------------------------------------------------------

export const EmbedContentRequest = Schema.Struct({
  model: Schema.optional(Schema.String),
  content: Content,
  taskType: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  outputDimensionality: Schema.optional(Schema.Number),
})
export type EmbedContentRequest = typeof EmbedContentRequest.Type

export const BatchEmbedContentsRequest = Schema.Struct({
  requests: Schema.Array(EmbedContentRequest),
})

export const ContentEmbedding = Schema.Struct({ values: Schema.Array(Schema.Number) })

export const EmbedContentResponse = Schema.Struct({ embedding: ContentEmbedding })
export const BatchEmbedContentsResponse = Schema.Struct({
  embeddings: Schema.optionalWith(Schema.Array(ContentEmbedding), { default: () => [] }),
})

export const CountTokensRequest = Schema.Struct({
  contents: Schema.optional(Schema.Array(Content)),
  generateContentRequest: Schema.optional(GenerateContentRequest),
})

export const CountTokensResponse = Schema.Struct({
  totalTokens: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  cachedContentTokenCount: Schema.optional(Schema.Number),
})

export const Model = Schema.Struct({
  name: Schema.String,
  baseModelId: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String),
  displayName: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  inputTokenLimit: Schema.optional(Schema.Number),
  outputTokenLimit: Schema.optional(Schema.Number),
  supportedGenerationMethods: Schema.optional(Schema.Array(Schema.String)),
  thinking: Schema.optional(Schema.Boolean),
})
export type Model = typeof Model.Type

export const ListModelsResponse = Schema.Struct({
  models: Schema.optionalWith(Schema.Array(Model), { default: () => [] }),
  nextPageToken: Schema.optional(Schema.String),
})

/** Google's error body (some proxies wrap it in a one-element array). */
export const ErrorBody = Schema.Struct({
  error: Schema.Struct({
    code: Schema.optional(Schema.Number),
    message: Schema.optional(Schema.String),
    status: Schema.optional(Schema.String),
    details: Schema.optional(Schema.Array(Obj)),
  }),
})
export type ErrorBody = typeof ErrorBody.Type
