/**
 * GenerateContentResponse ⇄ canonical ChatResponse, and the pieces streams share with it:
 * finish reasons and usage. What a Gemini upstream said that has no canonical home (the exact
 * finishReason, safety ratings, citations, grounding, the raw usageMetadata, extra candidates)
 * travels in `extras.gemini`, so a Gemini client behind a Gemini upstream gets it back as is.
 */
import { Either } from "effect"
import { type ChatResponse, Errors, type FinishReason, type Part, type Usage } from "@sluice/schema"
import * as GParts from "./Parts.ts"
import type * as Wire from "./Wire.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

// ---- finish reasons ---------------------------------------------------------------------------

const contentFilter = new Set([
  "SAFETY",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
  "IMAGE_PROHIBITED_CONTENT",
  "RECITATION",
  "IMAGE_RECITATION",
  "LANGUAGE",
])

/** Gemini finishReason → canonical. STOP with function calls is a tool-call ending. */
export const finishFromGemini = (reason: string | undefined, hasToolCalls: boolean): FinishReason => {
  if (reason === undefined || reason === "STOP") return hasToolCalls ? "tool_calls" : "stop"
  if (reason === "MAX_TOKENS") return "length"
  if (contentFilter.has(reason)) return "content_filter"
  if (reason === "MALFORMED_FUNCTION_CALL" || reason === "UNEXPECTED_TOOL_CALL" || reason === "TOO_MANY_TOOL_CALLS")
    return "error"
  return "other"
}

/** Canonical → Gemini finishReason (tool calls end with STOP, as Gemini does). */
export const finishToGemini = (reason: FinishReason): string => {
  switch (reason) {
    case "stop":
    case "stop_sequence":
    case "tool_calls":
      return "STOP"
    case "length":
      return "MAX_TOKENS"
    case "content_filter":
    case "refusal":
      return "SAFETY"
    case "error":
    case "other":
      return "OTHER"
  }
}

// ---- usage ------------------------------------------------------------------------------------

/** Gemini usage → canonical: thoughts count as output, tool-use prompt tokens as input. */
export const usageFromGemini = (u: Wire.UsageMetadata | undefined): Usage => {
  const thoughts = u?.thoughtsTokenCount ?? 0
  const usage: { -readonly [K in keyof Usage]: Usage[K] } = {
    inputTokens: (u?.promptTokenCount ?? 0) + (u?.toolUsePromptTokenCount ?? 0),
    outputTokens: (u?.candidatesTokenCount ?? 0) + thoughts,
  }
  if (thoughts > 0) usage.reasoningTokens = thoughts
  if (u?.cachedContentTokenCount !== undefined && u.cachedContentTokenCount > 0)
    usage.cachedInputTokens = u.cachedContentTokenCount
  return usage
}

/** Canonical usage → usageMetadata; totalTokenCount = prompt + candidates + thoughts. */
export const usageToGemini = (u: Usage): Json => {
  const thoughts = u.reasoningTokens ?? 0
  const out: Json = {
    promptTokenCount: u.inputTokens,
    candidatesTokenCount: Math.max(0, u.outputTokens - thoughts),
    totalTokenCount: u.inputTokens + Math.max(u.outputTokens, thoughts),
  }
  if (u.cachedInputTokens !== undefined && u.cachedInputTokens > 0) out.cachedContentTokenCount = u.cachedInputTokens
  if (thoughts > 0) out.thoughtsTokenCount = thoughts
  return out
}

// ---- Gemini → canonical -----------------------------------------------------------------------

/** Candidate fields with no canonical home (kept for a Gemini client). */
const candidateExtras = (c: Json): Json => {
  const out: Json = {}
  for (const [k, v] of Object.entries(c)) if (k !== "content" && k !== "index") out[k] = v
  return out
}

let counter = 0
/** A fresh id prefix for calls in one upstream answer (unique across answers). */
export const callIdPrefix = (): string =>
  `${GParts.syntheticPrefix}${Date.now().toString(36)}${(counter++ % 1296).toString(36)}_`

/** An upstream answer → canonical; `raw` is the same body undecoded (for the extras). */
export const fromGemini = (
  r: Wire.GenerateContentResponse,
  raw: Json,
  requestedModel: string,
): Either.Either<ChatResponse, Errors.UpstreamError> => {
  const candidate = r.candidates?.[0]
  const prefix = callIdPrefix()
  let parts: Array<Part> = []
  if (candidate?.content !== undefined) {
    const decoded = GParts.decode(candidate.content.parts, {
      path: "candidates[0].content.parts",
      ledger: new GParts.CallLedger(),
      makeId: (n) => `${prefix}${n}`,
      codeAsText: true,
    })
    if (Either.isLeft(decoded))
      return Either.left(new Errors.UpstreamError({ message: `Gemini answered ${decoded.left.message}`, status: 502 }))
    parts = decoded.right
  }
  const hasCalls = parts.some((p) => p.type === "tool_call")
  const blocked = candidate === undefined && r.promptFeedback?.blockReason !== undefined
  const extras: Json = {}
  const rawCandidates = Array.isArray(raw.candidates) ? raw.candidates : []
  if (isObj(rawCandidates[0])) {
    const more = candidateExtras(rawCandidates[0])
    if (Object.keys(more).length > 0) extras.candidate = more
  }
  if (rawCandidates.length > 1) extras.candidates = rawCandidates
  if (raw.promptFeedback !== undefined) extras.promptFeedback = raw.promptFeedback
  if (raw.usageMetadata !== undefined) extras.usageMetadata = raw.usageMetadata
  const response: { -readonly [K in keyof ChatResponse]: ChatResponse[K] } = {
    id: r.responseId ?? `${prefix}resp`,
    model: r.modelVersion ?? requestedModel,
    parts,
    finishReason: blocked ? "content_filter" : finishFromGemini(candidate?.finishReason, hasCalls),
    usage: usageFromGemini(r.usageMetadata),
    created: Math.floor(Date.now() / 1000),
  }
  if (Object.keys(extras).length > 0) response.extras = { gemini: extras }
  return Either.right(response)
}

// ---- canonical → Gemini -----------------------------------------------------------------------

/** Parts a model turn sends a Gemini client (tool results never appear in an answer). */
export const partsToGemini = (parts: ReadonlyArray<Part>): Array<GParts.WirePart> => {
  const encoded = GParts.encode(parts.filter((p) => p.type !== "tool_result"))
  // Arguments that are not a JSON object cannot be shown as Gemini args; keep the text.
  if (Either.isRight(encoded)) return encoded.right
  return parts.flatMap((p): Array<GParts.WirePart> => {
    if (p.type !== "tool_call") return GParts.encode([p]).pipe(Either.getOrElse(() => []))
    const args = GParts.argsOf(p.arguments)
    return [{ functionCall: { name: p.name, args: Either.isRight(args) ? args.right : { arguments: p.arguments } } }]
  })
}

/** A canonical answer → the GenerateContentResponse Google would send. */
export const toGemini = (r: ChatResponse): Json => {
  const extras = r.extras?.gemini ?? {}
  const out: Json = {}
  const promptBlocked = isObj(extras.promptFeedback) && r.parts.length === 0
  if (!promptBlocked) {
    const candidate: Json = {
      content: { parts: partsToGemini(r.parts), role: "model" },
      finishReason: finishToGemini(r.finishReason),
      index: 0,
    }
    // The upstream's own finishReason (RECITATION, SPII, …) is more exact than the canonical one.
    const more = isObj(extras.candidate) ? extras.candidate : {}
    const candidates: Array<unknown> = [{ ...candidate, ...more }]
    if (Array.isArray(extras.candidates)) candidates.push(...extras.candidates.slice(1))
    out.candidates = candidates
  }
  if (extras.promptFeedback !== undefined) out.promptFeedback = extras.promptFeedback
  out.usageMetadata = isObj(extras.usageMetadata) ? extras.usageMetadata : usageToGemini(r.usage)
  out.modelVersion = r.model
  out.responseId = r.id
  return out
}
