/**
 * Messages response ⇄ canonical ChatResponse: content blocks, stop reasons and usage. Usage
 * follows the canonical rule: inputTokens is the whole prompt, so Anthropic's cache reads and
 * cache writes (which its input_tokens excludes) are added in, and taken out again on the way back.
 */
import { CallId, type ChatResponse, type FinishReason, type Part, type Usage } from "@sluice/schema"
import type * as Wire from "./Wire.ts"

// ---- stop reasons ------------------------------------------------------------------------

export const finishReasonOf = (stop: string | null | undefined): FinishReason => {
  switch (stop) {
    case "end_turn":
    case "pause_turn":
    case null:
    case undefined:
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "stop_sequence":
      return "stop_sequence"
    case "tool_use":
      return "tool_calls"
    case "refusal":
      return "refusal"
    default:
      return "other"
  }
}

export const stopReasonOf = (finish: FinishReason): Wire.StopReason => {
  switch (finish) {
    case "length":
      return "max_tokens"
    case "stop_sequence":
      return "stop_sequence"
    case "tool_calls":
      return "tool_use"
    case "content_filter":
    case "refusal":
      return "refusal"
    case "stop":
    case "error":
    case "other":
      return "end_turn"
  }
}

// ---- usage -------------------------------------------------------------------------------

export interface WireUsage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_creation_input_tokens?: number | null | undefined
  readonly cache_read_input_tokens?: number | null | undefined
  readonly output_tokens_details?: { readonly thinking_tokens?: number | null | undefined } | null | undefined
}

export const usageOf = (u: WireUsage): Usage => {
  const cacheRead = u.cache_read_input_tokens ?? 0
  const cacheWrite = u.cache_creation_input_tokens ?? 0
  const thinking = u.output_tokens_details?.thinking_tokens
  return {
    inputTokens: u.input_tokens + cacheRead + cacheWrite,
    outputTokens: u.output_tokens,
    ...(cacheRead > 0 ? { cachedInputTokens: cacheRead } : {}),
    ...(cacheWrite > 0 ? { cacheCreationInputTokens: cacheWrite } : {}),
    ...(typeof thinking === "number" ? { reasoningTokens: thinking } : {}),
  }
}

export interface OutgoingUsage {
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens: number
  cache_read_input_tokens: number
}

export const wireUsageOf = (u: Usage): OutgoingUsage => {
  const cacheRead = u.cachedInputTokens ?? 0
  const cacheWrite = u.cacheCreationInputTokens ?? 0
  return {
    input_tokens: Math.max(0, u.inputTokens - cacheRead - cacheWrite),
    output_tokens: u.outputTokens,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  }
}

// ---- ids and tool input ------------------------------------------------------------------

/** Anthropic message ids look like `msg_…`; another provider's id is kept inside one. */
export const messageId = (id: string): string => (id.startsWith("msg_") ? id : `msg_${id}`)

/** Tool input must be an object on Anthropic's wire. */
export const toolInput = (args: string): Record<string, unknown> => {
  try {
    const v: unknown = JSON.parse(args === "" ? "{}" : args)
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v }
  } catch {
    return {}
  }
}

// ---- decode: wire → canonical ------------------------------------------------------------

export const partOf = (block: Wire.ResponseBlock): Part | undefined => {
  if ("text" in block && block.type === "text") return { type: "text", text: (block as Wire.TextBlock).text }
  if (block.type === "thinking") {
    const b = block as Wire.ThinkingBlock
    return { type: "reasoning", text: b.thinking, signature: b.signature }
  }
  if (block.type === "redacted_thinking")
    return { type: "reasoning", text: "", redacted: (block as Wire.RedactedThinkingBlock).data }
  if (block.type === "tool_use") {
    const b = block as Wire.ToolUseBlock
    return { type: "tool_call", id: b.id, name: b.name, arguments: JSON.stringify(b.input) }
  }
  // Server-tool blocks (web search results, …) have no canonical form.
  return undefined
}

export const decode = (message: Wire.Message): ChatResponse => {
  const parts: Array<Part> = []
  for (const b of message.content) {
    const p = partOf(b)
    if (p !== undefined) parts.push(p)
  }
  const finishReason = finishReasonOf(message.stop_reason)
  return {
    id: message.id,
    model: message.model,
    parts,
    finishReason,
    ...(typeof message.stop_sequence === "string" ? { stopSequence: message.stop_sequence } : {}),
    usage: usageOf(message.usage),
    created: Math.floor(Date.now() / 1000),
    // Keep reasons with no canonical twin (pause_turn, …) for an Anthropic client.
    ...(message.stop_reason !== null && message.stop_reason !== stopReasonOf(finishReason)
      ? { extras: { anthropic: { stop_reason: message.stop_reason } } }
      : {}),
  }
}

// ---- encode: canonical → wire ------------------------------------------------------------

/**
 * An image the model drew. The Messages API has no image output; this is its input image block,
 * the nearest faithful form (the SDKs pass unknown blocks through).
 */
export interface OutgoingImageBlock {
  type: "image"
  source: { type: "base64"; media_type: string; data: string } | { type: "url"; url: string }
}

export type OutgoingBlock =
  | Wire.TextBlock
  | Wire.ThinkingBlock
  | Wire.RedactedThinkingBlock
  | Wire.ToolUseBlock
  | OutgoingImageBlock

export const blockOf = (part: Part): OutgoingBlock | undefined => {
  switch (part.type) {
    case "text":
      return part.text === "" ? undefined : { type: "text", text: part.text }
    case "reasoning":
      return part.redacted !== undefined
        ? { type: "redacted_thinking", data: part.redacted }
        : { type: "thinking", thinking: part.text, signature: part.signature ?? "" }
    case "image":
      return {
        type: "image",
        source:
          part.source.kind === "base64"
            ? { type: "base64", media_type: part.source.mediaType, data: part.source.data }
            : { type: "url", url: part.source.url },
      }
    case "tool_call":
      // A Gemini thought signature rides in the id (CallId) and comes back with the tool_use.
      return {
        type: "tool_use",
        id: CallId.wrap(part.id, part.signature),
        name: part.name,
        input: toolInput(part.arguments),
      }
    default:
      return undefined
  }
}

export interface OutgoingMessage {
  id: string
  type: "message"
  role: "assistant"
  model: string
  content: Array<OutgoingBlock>
  stop_reason: string
  stop_sequence: string | null
  usage: OutgoingUsage
}

/** The stop reason to send: an Anthropic upstream's own when it had no canonical twin. */
export const stopReasonFor = (finish: FinishReason, extras: ChatResponse["extras"]): string => {
  const kept = extras?.anthropic?.stop_reason
  return typeof kept === "string" && finishReasonOf(kept) === finish ? kept : stopReasonOf(finish)
}

export const encode = (response: ChatResponse): OutgoingMessage => {
  const content: Array<OutgoingBlock> = []
  for (const p of response.parts) {
    const b = blockOf(p)
    if (b !== undefined) content.push(b)
  }
  return {
    id: messageId(response.id),
    type: "message",
    role: "assistant",
    model: response.model,
    content,
    stop_reason: stopReasonFor(response.finishReason, response.extras),
    stop_sequence: response.stopSequence ?? null,
    usage: wireUsageOf(response.usage),
  }
}
