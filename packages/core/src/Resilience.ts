/**
 * The policies behind retries, fallbacks and balancing: which errors are worth another try,
 * how long to wait (exponential backoff with jitter, an upstream retry-after honoured), and a
 * per-deployment circuit breaker that cools down a target that keeps failing.
 */
import { Context, Effect, Layer } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import type { GatewayConfig } from "./Config.ts"
import * as Services from "./Services.ts"

export interface RetryPolicy {
  readonly attempts: number
  readonly backoff: number
  readonly maxBackoff: number
  /** Milliseconds all attempts of one request may take, waits included. */
  readonly budget: number
}

/** Worth another try on the same target: rate limits, server errors, timeouts, broken connections. */
export const isRetriable = (e: GatewayError): boolean =>
  (e._tag === "UpstreamError" && (e.status === 429 || e.status >= 500)) ||
  e._tag === "Timeout" ||
  e._tag === "Unavailable"

/**
 * Worth trying the next target once retries are spent: anything retriable, plus an upstream
 * that refuses this gateway's key or does not know the model (another target may).
 */
export const shouldFallback = (e: GatewayError): boolean =>
  isRetriable(e) || (e._tag === "UpstreamError" && (e.status === 401 || e.status === 403 || e.status === 404))

/** Wait before retry number `failures` (1 = after the first failure): equal-jitter backoff. */
export const delayFor = (policy: RetryPolicy, failures: number, error: GatewayError, random = Math.random): number => {
  const exp = Math.min(policy.maxBackoff, policy.backoff * 2 ** (failures - 1))
  const jittered = exp / 2 + (random() * exp) / 2
  const after = Errors.retryAfter(error)
  return after === undefined ? jittered : Math.max(jittered, after * 1000)
}

interface BreakerState {
  failures: number
  openUntil: number
}

/** Consecutive-failure circuit breaker keyed by deployment (`provider/model`). */
export class CircuitBreaker {
  private readonly states = new Map<string, BreakerState>()
  constructor(
    readonly threshold: number,
    readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Open = skip this deployment. After the cooldown one trial request goes through (half-open). */
  isOpen(key: string): boolean {
    const s = this.states.get(key)
    return s !== undefined && s.openUntil > this.now()
  }

  success(key: string): void {
    this.states.delete(key)
  }

  failure(key: string): void {
    const s = this.states.get(key) ?? { failures: 0, openUntil: 0 }
    s.failures++
    if (s.failures >= this.threshold) {
      s.openUntil = this.now() + this.cooldownMs
      // Half-open: one more failure after the cooldown opens it again.
      s.failures = this.threshold - 1
    }
    this.states.set(key, s)
  }

  /** Milliseconds until the soonest of `keys` closes again (0 if one is closed). */
  retryIn(keys: ReadonlyArray<string>): number {
    let soonest = Number.POSITIVE_INFINITY
    for (const k of keys) {
      const s = this.states.get(k)
      const wait = s === undefined ? 0 : Math.max(0, s.openUntil - this.now())
      soonest = Math.min(soonest, wait)
    }
    return soonest === Number.POSITIVE_INFINITY ? 0 : soonest
  }
}

export type CircuitBreakerSettings = GatewayConfig["resilience"]["circuitBreaker"]

/**
 * The breaker as a long-lived service: its state survives a config reload unless
 * `resilience.circuitBreaker` itself changed. Time comes from Effect's Clock (TestClock in tests),
 * read once here so the hot path calls a plain function.
 */
export class Breaker extends Context.Tag("@sluice/core/Breaker")<Breaker, CircuitBreaker>() {
  static readonly make = (settings: CircuitBreakerSettings): Effect.Effect<CircuitBreaker> =>
    Effect.map(
      Effect.clock,
      (clock) => new CircuitBreaker(settings.failures, settings.cooldown, () => clock.unsafeCurrentTimeMillis()),
    )
  static readonly layer = (settings: CircuitBreakerSettings): Layer.Layer<Breaker> =>
    Layer.effect(Breaker, Breaker.make(settings))
  /** Kept across reloads while `resilience.circuitBreaker` is unchanged. */
  static readonly layerConfig = (config: GatewayConfig): Layer.Layer<Breaker> =>
    Services.stable("resilience.circuitBreaker", config.resilience.circuitBreaker, () =>
      Breaker.layer(config.resilience.circuitBreaker),
    )
}
