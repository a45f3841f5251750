/**
 * The `prices:` table: USD per million tokens, per model id or `*` pattern (an exact id beats
 * a pattern; patterns are tried in the order written). Cached input and cache writes have
 * their own prices when the vendor charges differently; they default to the input price.
 */
import { Schema } from "effect"
import type { Usage } from "@sluice/schema"
import { Wildcard } from "@sluice/core"

const Usd = Schema.Number.pipe(Schema.nonNegative())

export const Price = Schema.Struct({
  input: Usd,
  output: Usd,
  cachedInput: Schema.optional(Usd),
  cacheWrite: Schema.optional(Usd),
})
export type Price = typeof Price.Type

export const PricesSection = Schema.Record({ key: Schema.String, value: Price })

export interface PriceTable {
  /** The price of the first name that has one. */
  readonly find: (names: ReadonlyArray<string | undefined>) => Price | undefined
}

export const table = (prices: Readonly<Record<string, Price>>): PriceTable => {
  const exact = new Map<string, Price>()
  const patterns: Array<{ test: (s: string) => boolean; price: Price }> = []
  for (const [name, price] of Object.entries(prices)) {
    if (name.includes("*")) patterns.push({ test: Wildcard.compile(name), price })
    else exact.set(name, price)
  }
  const one = (name: string) => exact.get(name) ?? patterns.find((p) => p.test(name))?.price
  return {
    find: (names) => {
      for (const n of names) {
        if (n === undefined) continue
        const p = one(n)
        if (p !== undefined) return p
      }
      return undefined
    },
  }
}

/** Cost in nano-USD (integers add up exactly, in Redis too). */
export const costNanoUsd = (price: Price, usage: Usage): number => {
  const cached = Math.max(0, usage.cachedInputTokens ?? 0)
  const written = Math.max(0, usage.cacheCreationInputTokens ?? 0)
  const fresh = Math.max(0, usage.inputTokens - cached - written)
  // USD per million tokens = nano-USD per thousandth of a token… i.e. ×1000 per token.
  const nano =
    fresh * price.input * 1000 +
    cached * (price.cachedInput ?? price.input) * 1000 +
    written * (price.cacheWrite ?? price.input) * 1000 +
    Math.max(0, usage.outputTokens) * price.output * 1000
  return Math.round(nano)
}

export const toUsd = (nano: number): number => nano / 1e9

/**
 * An amount for people: cents when it is whole cents ("$8.45"), otherwise every digit down to
 * the nano-dollar ("$0.001", "$0.000123") — never rounded to "$0.00".
 */
export const formatUsd = (nano: number): string => {
  const sign = nano < 0 ? "-" : ""
  const abs = Math.abs(Math.round(nano))
  const whole = Math.floor(abs / 1e9)
  const frac = String(abs % 1e9).padStart(9, "0")
  const digits = frac.replace(/0+$/, "").padEnd(2, "0")
  return `${sign}$${whole}.${digits}`
}
