/**
 * The limiter's store contract: two token buckets per caller, requests per minute and tokens
 * per minute, each refilling continuously (capacity = the per-minute limit). `take` checks and
 * takes from both atomically — a request passes only if both have room — and `adjust` corrects
 * the token bucket once the real usage is known (it may go negative: a debt the next requests
 * wait out). Implementations: MemoryLimiter (one process) and RedisLimiter (a fleet).
 */
import { Data, type Effect } from "effect"

export const windowMs = 60_000

export interface Limits {
  /** Requests per minute. */
  readonly rpm?: number | undefined
  /** Tokens (input + output) per minute. */
  readonly tpm?: number | undefined
}

export interface BucketState {
  readonly limit: number
  /** Whole units left now (never below 0 in reports). */
  readonly remaining: number
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number
}

export interface Decision {
  readonly allowed: boolean
  /** When refused: milliseconds until it could pass; undefined when it never can (bigger than the bucket). */
  readonly retryAfterMs?: number | undefined
  readonly requests?: BucketState | undefined
  readonly tokens?: BucketState | undefined
}

export class LimiterUnavailable extends Data.TaggedError("LimiterUnavailable")<{ readonly reason: string }> {}

export interface LimiterStore {
  /** Take one request and `tokens` tokens for `key`, or neither. */
  readonly take: (key: string, limits: Limits, tokens: number) => Effect.Effect<Decision, LimiterUnavailable>
  /** Add `delta` tokens to what `key` used (negative gives tokens back). */
  readonly adjust: (key: string, limits: Limits, delta: number) => Effect.Effect<void, LimiterUnavailable>
}

/** Refill a bucket from `level` at time `at` to `now`, capped at `capacity`. */
export const refill = (level: number, at: number, now: number, capacity: number): number =>
  Math.min(capacity, level + (Math.max(0, now - at) * capacity) / windowMs)

/** Milliseconds until a bucket at `level` holds `need`. */
export const waitFor = (level: number, need: number, capacity: number): number =>
  need <= level ? 0 : Math.ceil(((need - level) * windowMs) / capacity)

export const state = (level: number, capacity: number): BucketState => ({
  limit: capacity,
  remaining: Math.max(0, Math.floor(level)),
  resetMs: waitFor(level, capacity, capacity),
})
