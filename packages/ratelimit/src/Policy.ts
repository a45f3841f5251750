/**
 * What @sluice/auth puts in `ctx.principal.policy` for this package to read: the key's rate
 * limits and budget. Decoded defensively — a malformed policy is refused, never ignored.
 */
import { Either, Schema } from "effect"
import type { Principal } from "@sluice/core"

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())

export const RateLimitPolicy = Schema.Struct({
  rpm: Schema.optional(PositiveInt),
  tpm: Schema.optional(PositiveInt),
})
export type RateLimitPolicy = typeof RateLimitPolicy.Type

export const BudgetPeriod = Schema.Literal("total", "daily", "weekly", "monthly")
export type BudgetPeriod = typeof BudgetPeriod.Type

export const BudgetPolicy = Schema.Struct({
  usd: Schema.Number.pipe(Schema.nonNegative()),
  period: Schema.optionalWith(BudgetPeriod, { default: () => "total" as const }),
})
export type BudgetPolicy = typeof BudgetPolicy.Type

const decodeRate = Schema.decodeUnknownEither(RateLimitPolicy)
const decodeBudget = Schema.decodeUnknownEither(BudgetPolicy)

/** The key's own rate limit: undefined when it has none, Left when it is malformed. */
export const rateLimitOf = (p: Principal | undefined): Either.Either<RateLimitPolicy | undefined, string> => {
  const raw = p?.policy?.rateLimit
  if (raw === undefined) return Either.right(undefined)
  return Either.mapLeft(decodeRate(raw), () => `key "${p!.name}" has a malformed rate limit policy`)
}

export const budgetOf = (p: Principal | undefined): Either.Either<BudgetPolicy | undefined, string> => {
  const raw = p?.policy?.budget
  if (raw === undefined) return Either.right(undefined)
  return Either.mapLeft(decodeBudget(raw), () => `key "${p!.name}" has a malformed budget policy`)
}
