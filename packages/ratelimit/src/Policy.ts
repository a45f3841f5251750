/**
 * This package's part of a virtual key's policy: `rateLimit` (the ratelimit middleware) and
 * `budget` (budgets). Auth decodes them once, when the key is loaded — config keys when the
 * config is built, stored keys when first seen — and the middleware reads them typed from the
 * principal (`rateLimit.get(principal)`), never parsing them again.
 */
import { KeyPolicy } from "@sluice/core"
import { Schema } from "effect"

export const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())

export const RateLimitPolicy = Schema.Struct({
  /** Requests per minute. */
  rpm: Schema.optional(PositiveInt),
  /** Tokens (input + output) per minute. */
  tpm: Schema.optional(PositiveInt),
})
export type RateLimitPolicy = typeof RateLimitPolicy.Type

export const BudgetPeriod = Schema.Literal("total", "daily", "weekly", "monthly")
export type BudgetPeriod = typeof BudgetPeriod.Type

export const BudgetPolicy = Schema.Struct({
  usd: Schema.Number.pipe(Schema.nonNegative()),
  /** When spend starts again from zero (UTC calendar); `total` never resets. */
  period: Schema.optionalWith(BudgetPeriod, { default: () => "total" as const }),
})
export type BudgetPolicy = typeof BudgetPolicy.Type

/** A key's own limits (`rateLimit: { rpm, tpm }`), enforced by the `ratelimit` middleware. */
export const rateLimit = KeyPolicy.field("rateLimit", RateLimitPolicy, { owner: "ratelimit" })

/** A key's spending limit (`budget: { usd, period }`), enforced by the `budgets` middleware. */
export const budget = KeyPolicy.field("budget", BudgetPolicy, {
  owner: "budgets",
  rules: (config) =>
    config.prices === undefined ? { off: "a budget needs a prices: section to price usage" } : undefined,
})
