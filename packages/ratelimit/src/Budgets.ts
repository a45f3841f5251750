/**
 * The budgets middleware: every answer a verified key gets is priced from its final usage
 * (streams too, at their `finish` event) and added to the key's ledger; a key with a budget is
 * refused once its spend for the period reaches the budget.
 *
 * Over budget is a 403 PermissionDenied, not a 429: the condition lasts until the period
 * resets (or the budget is raised), and SDKs retry 429s automatically but not 403s.
 * Spend is checked before a call and charged after it, so concurrent calls in flight when the
 * budget runs out can overshoot it by their own cost.
 * A key with a budget may only use models with a price: an unpriced call could not be charged.
 */
import { Effect, Either, Schema } from "effect"
import { Config, Handler, type Middleware, Middleware as MiddlewareM, type MiddlewareSpec } from "@sluice/core"
import { Errors } from "@sluice/schema"
import type { Ledger } from "./Ledger.ts"
import * as Periods from "./Periods.ts"
import { budgetOf } from "./Policy.ts"
import * as Prices from "./Prices.ts"
import * as Usage from "./Usage.ts"

export const Settings = Schema.Struct({
  /** When the ledger cannot be read in time: closed refuses budgeted keys (503), open lets them through. */
  failMode: Schema.optionalWith(Schema.Literal("open", "closed"), { default: () => "closed" as const }),
})

export interface BudgetOptions extends Partial<typeof Settings.Encoded> {
  readonly ledger: Ledger
  readonly prices: Readonly<Record<string, Prices.Price>>
  /** Other names a requested model goes by (routed `provider/model` and upstream ids), for price lookup. */
  readonly aliases?: ((model: string) => ReadonlyArray<string>) | undefined
  readonly now?: (() => number) | undefined
}

const usd = (nano: number) => `$${Prices.toUsd(nano).toFixed(2)}`

export const make = (
  options: BudgetOptions,
  settings: typeof Settings.Type,
  prices: Prices.PriceTable,
): Middleware.Middleware => {
  const { ledger } = options
  const now = options.now ?? Date.now
  const aliases = options.aliases ?? (() => [])

  return (next) => (request) => {
    const principal = request.ctx.principal
    if (principal === undefined || request._tag === "ListModels" || request._tag === "CountTokens") return next(request)
    const budget = budgetOf(principal)
    if (Either.isLeft(budget)) return Effect.fail(new Errors.Internal({ message: budget.left }))
    const model = Handler.modelOf(request)!
    const names = [model, ...aliases(model)]

    const charge = (actual: Usage.Actual) => {
      if (actual.usage === undefined) return Effect.void
      const price = prices.find([actual.model, ...names])
      const amounts = {
        nanoUsd: price === undefined ? 0 : Prices.costNanoUsd(price, actual.usage),
        requests: 1,
        inputTokens: actual.usage.inputTokens,
        outputTokens: actual.usage.outputTokens,
      }
      return ledger
        .record(principal.id, amounts, now())
        .pipe(
          Effect.catchAll((e) =>
            Effect.logError(
              `budgets: could not record ${usd(amounts.nanoUsd)} for key "${principal.name}" (${e.reason})`,
            ),
          ),
        )
    }
    const metered = (headers: Record<string, string>) =>
      next(request).pipe(
        Effect.flatMap((response) => Usage.observe(response, charge)),
        Effect.map((response) => Handler.withHeaders(response, headers)),
      )

    const b = budget.right
    if (b === undefined) return metered({})
    if (prices.find(names) === undefined) {
      return Effect.fail(
        new Errors.PermissionDenied({
          message: `model "${model}" has no price configured, so key "${principal.name}" (which has a budget) cannot use it`,
        }),
      )
    }
    const t = now()
    return ledger.spent(principal.id, b.period, t).pipe(
      Effect.matchEffect({
        onFailure: (e) =>
          settings.failMode === "open"
            ? Effect.zipRight(Effect.logWarning(`budgets: ledger unavailable (${e.reason}); failing open`), metered({}))
            : Effect.zipRight(
                Effect.logWarning(`budgets: ledger unavailable (${e.reason}); failing closed`),
                Effect.fail(
                  new Errors.Unavailable({
                    message: "budget accounting is unavailable; try again shortly",
                    retryAfterSeconds: 1,
                  }),
                ),
              ),
        onSuccess: (spent) => {
          const limit = Math.round(b.usd * 1e9)
          if (spent >= limit) {
            const reset = Periods.resetsAt(b.period, t)
            return Effect.fail(
              new Errors.PermissionDenied({
                message: `budget exhausted for key "${principal.name}": ${usd(spent)} of ${usd(limit)} spent ${Periods.label(b.period)}${reset === undefined ? "" : `; it resets at ${reset.toISOString()}`}`,
              }),
            )
          }
          return metered({
            "x-sluice-budget-limit-usd": Prices.toUsd(limit).toFixed(6),
            "x-sluice-budget-remaining-usd": Prices.toUsd(limit - spent).toFixed(6),
          })
        },
      }),
    )
  }
}

/** `Budgets.middleware(options)`: a bad price table or option fails when built, naming the field. */
export const middleware = (options: BudgetOptions): MiddlewareSpec<Config.ConfigError> =>
  MiddlewareM.make(
    "budgets",
    Effect.gen(function* () {
      const prices = yield* Config.decodeSection(Prices.PricesSection, options.prices, "prices")
      const settings = yield* Config.decodeSection(
        Settings,
        options.failMode === undefined ? {} : { failMode: options.failMode },
        "budgets",
      )
      return make(options, settings, Prices.table(prices))
    }),
  )
