/**
 * What @sluice/auth puts in `ctx.principal.policy` for this package to read: the key's rate
 * limits and budget (schemas are @sluice/auth's). Decoded defensively — a malformed policy is refused, never ignored.
 */
import { KeyRecord } from "@sluice/auth"
import type { Principal } from "@sluice/core"
import { Either, Schema } from "effect"

const { BudgetPolicy, RateLimitPolicy } = KeyRecord
type BudgetPolicy = KeyRecord.BudgetPolicy
type RateLimitPolicy = KeyRecord.RateLimitPolicy

export type BudgetPeriod = KeyRecord.BudgetPeriod

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
