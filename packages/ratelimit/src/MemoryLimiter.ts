/** Token buckets in this process's memory: the default, exact for one gateway instance. */
import { Effect } from "effect"
import { type Decision, type LimiterStore, type Limits, refill, state, waitFor } from "./Limiter.ts"

interface Bucket {
  level: number
  at: number
}

export const make = (now: () => number = Date.now): LimiterStore => {
  const buckets = new Map<string, Bucket>()

  const level = (key: string, capacity: number, t: number): number => {
    const b = buckets.get(key)
    return b === undefined ? capacity : refill(b.level, b.at, t, capacity)
  }

  const save = (key: string, l: number, capacity: number, t: number) => {
    // A full bucket is the same as no bucket: keep the map as small as the set of busy callers.
    if (l >= capacity) buckets.delete(key)
    else buckets.set(key, { level: l, at: t })
  }

  return {
    take: (key, limits: Limits, tokens) =>
      Effect.sync((): Decision => {
        const t = now()
        const r = limits.rpm === undefined ? undefined : level(`${key}:r`, limits.rpm, t)
        const k = limits.tpm === undefined ? undefined : level(`${key}:t`, limits.tpm, t)
        if (limits.tpm !== undefined && tokens > limits.tpm) {
          return { allowed: false, retryAfterMs: undefined, tokens: state(k!, limits.tpm) }
        }
        const wait = Math.max(
          r === undefined ? 0 : waitFor(r, 1, limits.rpm!),
          k === undefined || tokens === 0 ? 0 : waitFor(k, tokens, limits.tpm!),
        )
        if (wait > 0) {
          return {
            allowed: false,
            retryAfterMs: wait,
            requests: r === undefined ? undefined : state(r, limits.rpm!),
            tokens: k === undefined ? undefined : state(k, limits.tpm!),
          }
        }
        if (r !== undefined) save(`${key}:r`, r - 1, limits.rpm!, t)
        if (k !== undefined) save(`${key}:t`, k - tokens, limits.tpm!, t)
        return {
          allowed: true,
          requests: r === undefined ? undefined : state(r - 1, limits.rpm!),
          tokens: k === undefined ? undefined : state(k - tokens, limits.tpm!),
        }
      }),
    adjust: (key, limits, delta) =>
      Effect.sync(() => {
        if (limits.tpm === undefined || delta === 0) return
        const t = now()
        save(`${key}:t`, Math.min(limits.tpm, level(`${key}:t`, limits.tpm, t) - delta), limits.tpm, t)
      }),
  }
}
