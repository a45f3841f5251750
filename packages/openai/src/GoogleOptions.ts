/**
 * Gemini options an OpenAI client sends the way Google's OpenAI-compatible endpoint takes them:
 * `extra_body.google.thinking_config` { thinking_budget, thinking_level, include_thoughts }.
 * Google's Python example nests `extra_body` inside the SDK's own `extra_body`, so the wire has
 * `extra_body.google…`; a client that passes `google` straight in the SDK's `extra_body` (which
 * the SDK merges into the body) sends a top-level `google`. Both are read; both are consumed,
 * so no upstream receives them as unknown fields.
 */
import { Either } from "effect"
import type { Chat, Errors } from "@sluice/schema"
import { badField, isRecord } from "./Decode.ts"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const levels: Record<string, Chat.ReasoningEffort> = {
  minimal: "minimal",
  low: "low",
  medium: "medium",
  high: "high",
}

/** Where the google object sits in this body, with its field path; undefined when absent. */
const locate = (body: Record<string, unknown>): { value: unknown; path: string } | undefined => {
  if (isRecord(body.extra_body) && body.extra_body.google !== undefined)
    return { value: body.extra_body.google, path: "extra_body.google" }
  if (body.google !== undefined) return { value: body.google, path: "google" }
  return undefined
}

/** The keys of the body Google's options occupy (removed from the pass-through extras). */
export const consumedKeys = (body: unknown): ReadonlyArray<string> => {
  if (!isRecord(body)) return []
  const out: Array<string> = []
  if (body.google !== undefined) out.push("google")
  if (isRecord(body.extra_body) && Object.keys(body.extra_body).every((k) => k === "google")) out.push("extra_body")
  return out
}

/** The thinking config as canonical reasoning, or undefined when the client sent none. */
export const reasoning = (body: unknown): Either.Either<Chat.ReasoningConfig | undefined, Errors.InvalidRequest> => {
  if (!isRecord(body)) return Either.right(undefined)
  const found = locate(body)
  if (found === undefined) return Either.right(undefined)
  if (!isRecord(found.value)) return Either.left(badField(found.path, "must be an object"))
  const tc = found.value.thinking_config
  const path = `${found.path}.thinking_config`
  if (tc === undefined) return Either.right(undefined)
  if (!isRecord(tc)) return Either.left(badField(path, "must be an object"))
  const out: Mutable<Chat.ReasoningConfig> = {}
  const include = tc.include_thoughts
  if (include !== undefined) {
    if (typeof include !== "boolean") return Either.left(badField(`${path}.include_thoughts`, "must be a boolean"))
    out.includeThoughts = include
  }
  const budget = tc.thinking_budget
  const level = tc.thinking_level
  if (budget !== undefined && level !== undefined)
    return Either.left(
      badField(`${path}.thinking_level`, "thinking_budget and thinking_level are not supported together"),
    )
  if (budget !== undefined) {
    if (typeof budget !== "number" || !Number.isInteger(budget) || budget < -1)
      return Either.left(
        badField(`${path}.thinking_budget`, "must be -1 (dynamic), 0 (off) or a positive number of tokens"),
      )
    if (budget === 0) out.effort = "none"
    else if (budget > 0) out.budgetTokens = budget
  }
  if (level !== undefined) {
    const effort = typeof level === "string" ? levels[level.toLowerCase()] : undefined
    if (effort === undefined)
      return Either.left(badField(`${path}.thinking_level`, "must be one of minimal, low, medium, high"))
    out.effort = effort
  }
  return Either.right(out)
}
