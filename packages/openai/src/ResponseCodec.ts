/**
 * Chat completion responses, both ways, and the pieces the stream codec shares with them:
 * finish reasons and usage.
 */
import { Either } from "effect"
import { type ChatResponse, Errors, type FinishReason, type Part, type Parts, type Usage } from "@sluice/schema"
import { compact } from "./Decode.ts"
import * as Media from "./Media.ts"
import * as ThoughtSignature from "./ThoughtSignature.ts"
import type * as Wire from "./Wire.ts"

// ---- finish reasons -------------------------------------------------------------------------

/** Canonical → OpenAI: everything that is not length/tools/filter is an ordinary stop. */
export const wireFinish = (r: FinishReason): Wire.FinishReason => {
  switch (r) {
    case "length":
      return "length"
    case "tool_calls":
      return "tool_calls"
    case "content_filter":
    case "refusal":
      return "content_filter"
    default:
      return "stop"
  }
}

/** OpenAI (and compatible servers' variants) → canonical. Tool calls win over a plain stop. */
export const canonicalFinish = (r: string | null | undefined, sawToolCall: boolean): FinishReason => {
  switch (r) {
    case "length":
    case "max_tokens":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool_calls"
    case "content_filter":
      return "content_filter"
    case "stop":
    case "eos":
    case null:
    case undefined:
      return sawToolCall ? "tool_calls" : "stop"
    default:
      return sawToolCall ? "tool_calls" : "other"
  }
}

// ---- usage ----------------------------------------------------------------------------------

export const wireUsage = (u: Usage): Wire.Usage => ({
  prompt_tokens: u.inputTokens,
  completion_tokens: u.outputTokens,
  total_tokens: u.inputTokens + u.outputTokens,
  prompt_tokens_details: { cached_tokens: u.cachedInputTokens ?? 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0, audio_tokens: 0 },
})

export const canonicalUsage = (u: Wire.Usage | null | undefined): Usage => {
  if (u == null) return { inputTokens: 0, outputTokens: 0 }
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? undefined
  const cached = u.prompt_tokens_details?.cached_tokens ?? u.prompt_cache_hit_tokens
  return compact<Usage>({
    inputTokens: u.prompt_tokens,
    outputTokens: u.completion_tokens,
    reasoningTokens: reasoning === null || reasoning === 0 ? undefined : reasoning,
    cachedInputTokens: cached === null || cached === 0 ? undefined : cached,
  })
}

// ---- response -------------------------------------------------------------------------------

/** A drawn image as a chat `images` entry (a data: URL; a URL answer stays a URL). */
export const outputImage = (p: Parts.ImagePart, index: number): Wire.OutputImage => ({
  type: "image_url",
  image_url: { url: p.source.kind === "url" ? p.source.url : Media.toDataUrl(p.source.mediaType, p.source.data) },
  index,
})

/** A chat `images` entry → a canonical image part. */
export const imagePart = (image: Wire.OutputImage): Parts.ImagePart => {
  const data = Media.parseDataUrl(image.image_url.url)
  return data === undefined
    ? { type: "image", source: { kind: "url", url: image.image_url.url } }
    : { type: "image", source: { kind: "base64", mediaType: data.mediaType, data: data.data } }
}

/** Canonical answer → the `chat.completion` object a client receives. */
export const encode = (r: ChatResponse): Wire.ChatCompletion => {
  let text = ""
  let reasoning = ""
  const calls: Array<Wire.ToolCall> = []
  const images: Array<Wire.OutputImage> = []
  for (const p of r.parts) {
    if (p.type === "text") text += p.text
    else if (p.type === "image") images.push(outputImage(p, images.length))
    else if (p.type === "reasoning") reasoning += p.text
    else if (p.type === "tool_call")
      calls.push({
        ...ThoughtSignature.toClient(p.id, p.signature),
        type: "function",
        function: { name: p.name, arguments: p.arguments },
      })
  }
  const message = compact<Wire.ResponseMessage>({
    role: "assistant",
    content: text === "" && calls.length > 0 ? null : text,
    refusal: null,
    tool_calls: calls.length > 0 ? calls : undefined,
    // Not in OpenAI's schema, but the de-facto field (DeepSeek); the SDK passes it through.
    reasoning_content: reasoning === "" ? undefined : reasoning,
    images: images.length > 0 ? images : undefined,
  })
  return {
    id: r.id,
    object: "chat.completion",
    created: r.created,
    model: r.model,
    choices: [{ index: 0, message, finish_reason: wireFinish(r.finishReason), logprobs: null }],
    usage: wireUsage(r.usage),
    system_fingerprint: null,
  }
}

/** An upstream `chat.completion` → canonical. */
export const decode = (w: Wire.ChatCompletion, provider: string): Either.Either<ChatResponse, Errors.UpstreamError> => {
  const choice = w.choices.find((c) => c.index === 0) ?? w.choices[0]
  if (choice === undefined) {
    return Either.left(
      new Errors.UpstreamError({ message: "the provider answered with no choices", status: 502, provider }),
    )
  }
  const m = choice.message
  const parts: Array<Part> = []
  const reasoning = m.reasoning_content ?? m.reasoning
  if (reasoning) parts.push({ type: "reasoning", text: reasoning })
  if (m.content) parts.push({ type: "text", text: m.content })
  else if (m.refusal) parts.push({ type: "text", text: m.refusal })
  for (const image of m.images ?? []) parts.push(imagePart(image))
  for (const c of m.tool_calls ?? []) {
    // Google's OpenAI-compatible endpoint signs calls in extra_content.
    const signature = c.extra_content?.google?.thought_signature
    const part: Parts.ToolCallPart = {
      type: "tool_call",
      id: c.id,
      name: c.function.name,
      arguments: c.function.arguments,
    }
    parts.push(signature === undefined ? part : { ...part, signature })
  }
  let finishReason = canonicalFinish(choice.finish_reason, (m.tool_calls ?? []).length > 0)
  if (m.refusal && !m.content && finishReason === "stop") finishReason = "refusal"
  return Either.right({
    id: w.id,
    model: w.model,
    parts,
    finishReason,
    usage: canonicalUsage(w.usage),
    created: w.created,
  })
}
