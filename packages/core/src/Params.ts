/**
 * Bounds for the sampling and length parameters every wire format shares, as Schemas the
 * ingresses put on their own field names: a value no provider would take (`max_tokens: -1`,
 * `1.5`, `1e308`, `temperature: 99`) is a 400 naming the field before anything goes upstream.
 * The messages say what is expected and do not quote the value back.
 */
import { Schema } from "effect"

/** Providers read token limits as 32-bit integers. */
export const maxTokenLimit = 2_147_483_647

/** `max_tokens`, `max_completion_tokens`, `max_output_tokens`, `maxOutputTokens`. */
export const TokenLimit = Schema.Number.pipe(
  Schema.filter(
    (n) => (Number.isInteger(n) && n >= 1 && n <= maxTokenLimit) || `expected an integer from 1 to ${maxTokenLimit}`,
  ),
)

/** A number in [min, max] (finite by construction: JSON has no NaN or Infinity). */
export const between = (min: number, max: number) =>
  Schema.Number.pipe(Schema.filter((n) => (n >= min && n <= max) || `expected a number from ${min} to ${max}`))

/** `temperature`: OpenAI and Gemini take 0–2, Anthropic 0–1. */
export const Temperature = (max: 1 | 2) => between(0, max)

/** `top_p` / `topP`. */
export const TopP = between(0, 1)

/** `presence_penalty` / `frequency_penalty` (OpenAI's and Gemini's range). */
export const Penalty = between(-2, 2)

/** `top_k` / `topK`: a non-negative integer. */
export const TopK = Schema.Number.pipe(
  Schema.filter((n) => (Number.isInteger(n) && n >= 0 && n <= maxTokenLimit) || "expected a non-negative integer"),
)
