/**
 * `x-ratelimit-*` reply headers, as OpenAI sends them: limit, remaining and time to reset
 * (a duration such as `850ms`, `6s`, `1m30s`) for requests and for tokens.
 */
import type { BucketState, Decision } from "./Limiter.ts"

export const duration = (ms: number): string => {
  if (ms < 1_000) return `${Math.max(0, Math.ceil(ms))}ms`
  const s = Math.ceil(ms / 100) / 10
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  return `${m}m${Math.ceil(s - m * 60)}s`
}

const bucket = (out: Record<string, string>, kind: "requests" | "tokens", b: BucketState | undefined) => {
  if (b === undefined) return
  out[`x-ratelimit-limit-${kind}`] = String(b.limit)
  out[`x-ratelimit-remaining-${kind}`] = String(b.remaining)
  out[`x-ratelimit-reset-${kind}`] = duration(b.resetMs)
}

export const of = (decision: Decision): Record<string, string> => {
  const out: Record<string, string> = {}
  bucket(out, "requests", decision.requests)
  bucket(out, "tokens", decision.tokens)
  return out
}
