/**
 * The budgets middleware: every answer a verified key gets is priced from its final usage
 * (streams too, at their `finish` event) and added to the key's ledger.
 *
 * A key with a budget reserves the request's worst case before the call — the estimated input
 * plus its maximum output (`max_tokens` × candidates, or `defaultMaxOutputTokens` when the
 * request sets none) at the model's price — atomically in the ledger: a burst of concurrent
 * requests can never spend past the budget, whichever instance they reach. After the call the
 * hold is settled to the real cost (streams at `finish`); a call that fails gives it back. A
 * stream that ends without reporting usage keeps the hold as its cost.
 *
 * Over budget is a 403 PermissionDenied, not a 429: the condition lasts until the period
 * resets (or the budget is raised), and SDKs retry 429s automatically but not 403s.
 * A key with a budget may only use models with a price: an unpriced call could not be charged.
 */
import { Effect, Exit, Schema } from "effect"
import {
  Config,
  type GatewayRequest,
  Handler,
  type Middleware,
  Middleware as MiddlewareM,
  type MiddlewareSpec,
} from "@sluice/core"
import { Errors } from "@sluice/schema"
import { type Counters, type Ledger, zero } from "./Ledger.ts"
import * as Periods from "./Periods.ts"
import * as Policy from "./Policy.ts"
import * as Prices from "./Prices.ts"
import * as Tokens from "./Tokens.ts"
import * as Usage from "./Usage.ts"

export const Settings = Schema.Struct({
  /** When the ledger cannot be read in time: closed refuses budgeted keys (503), open lets them through. */
  failMode: Schema.optionalWith(Schema.Literal("open", "closed"), { default: () => "closed" as const }),
  /** The output a request that sets no maximum is assumed to reach, for its reservation. */
  defaultMaxOutputTokens: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.positive()), {
    default: () => 4_096,
  }),
})

export interface BudgetOptions extends Partial<typeof Settings.Encoded> {
  readonly ledger: Ledger
  readonly prices: Readonly<Record<string, Prices.Price>>
  /** Other names a requested model goes by (routed `provider/model` and upstream ids), for price lookup. */
  readonly aliases?: ((model: string) => ReadonlyArray<string>) | undefined
  readonly now?: (() => number) | undefined
  /** Input-token estimator for reservations; by default `Tokens.fast`. */
  readonly estimator?: Tokens.Estimator | undefined
}

const usd = Prices.formatUsd

/** The most output a request may produce: its own maximum, or the configured default, per candidate. */
const maxOutputOf = (request: GatewayRequest, fallback: number): number => {
  if (request._tag !== "Chat") return 0
  const max = request.chat.maxTokens
  const perCandidate = max !== undefined && Number.isFinite(max) && max > 0 ? Math.ceil(max) : fallback
  return perCandidate * Math.max(1, Math.floor(request.chat.candidates ?? 1))
}

export const make = (
  options: BudgetOptions,
  settings: typeof Settings.Type,
  prices: Prices.PriceTable,
  estimator: Tokens.Estimator = Tokens.heuristic,
): Middleware.Middleware => {
  const { ledger } = options
  const now = options.now ?? Date.now
  const aliases = options.aliases ?? (() => [])

  return (next) => (request) => {
    const principal = request.ctx.principal
    if (principal === undefined || request._tag === "ListModels" || request._tag === "CountTokens") return next(request)
    const model = Handler.modelOf(request)!
    const names = [model, ...aliases(model)]

    const costOf = (actual: Usage.Actual): Counters | undefined => {
      if (actual.usage === undefined) return undefined
      const price = prices.find([actual.model, ...names])
      return {
        nanoUsd: price === undefined ? 0 : Prices.costNanoUsd(price, actual.usage),
        requests: 1,
        inputTokens: actual.usage.inputTokens,
        outputTokens: actual.usage.outputTokens,
      }
    }
    const record = (amounts: Counters, at: number, what: string) =>
      ledger
        .record(principal.id, amounts, at)
        .pipe(
          Effect.catchAll((e) =>
            Effect.logError(`budgets: could not record ${what} for key "${principal.name}" (${e.reason})`),
          ),
        )
    const metered = (headers: Record<string, string>) =>
      next(request).pipe(
        Effect.flatMap((response) =>
          Usage.observe(response, (actual) => {
            const cost = costOf(actual)
            return cost === undefined ? Effect.void : record(cost, now(), usd(cost.nanoUsd))
          }),
        ),
        Effect.map((response) => Handler.withHeaders(response, headers)),
      )

    // Decoded when the key was loaded: typed here, never parsed again.
    const b = Policy.budget.get(principal)
    if (b === undefined) return metered({})
    const price = prices.find(names)
    if (price === undefined) {
      return Effect.fail(
        new Errors.PermissionDenied({
          message: `model "${model}" has no price configured, so key "${principal.name}" (which has a budget) cannot use it`,
        }),
      )
    }
    const limit = Math.round(b.usd * 1e9)
    const inputTokens = estimator.estimate(request)
    const outputTokens = maxOutputOf(request, settings.defaultMaxOutputTokens)
    const hold = Prices.costNanoUsd(price, { inputTokens, outputTokens })
    const t = now()

    /** The hold becomes the real cost; a hold with no usage to replace it stays as the cost. */
    const settle = (actual: Usage.Actual) => {
      const cost = costOf(actual)
      const amounts = cost === undefined ? { ...zero, requests: 1 } : { ...cost, nanoUsd: cost.nanoUsd - hold }
      return record(amounts, t, usd(cost?.nanoUsd ?? hold))
    }
    const release = record({ ...zero, nanoUsd: -hold }, t, `the release of ${usd(hold)}`)

    return ledger.reserve(principal.id, b.period, limit, hold, t).pipe(
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
        onSuccess: (reservation) => {
          if (!reservation.ok) {
            const reset = Periods.resetsAt(b.period, t)
            const resets = reset === undefined ? "" : `; it resets at ${reset.toISOString()}`
            const spent = reservation.spent
            return Effect.fail(
              new Errors.PermissionDenied({
                message:
                  spent >= limit
                    ? `budget exhausted for key "${principal.name}": ${usd(spent)} of ${usd(limit)} spent ${Periods.label(b.period)}${resets}`
                    : `budget too low for this request: it may cost up to ${usd(hold)} (about ${inputTokens} input and up to ${outputTokens} output tokens) and key "${principal.name}" has ${usd(limit - spent)} of ${usd(limit)} left ${Periods.label(b.period)}; ask for fewer output tokens${resets}`,
              }),
            )
          }
          const before = reservation.spent - hold
          return next(request).pipe(
            // A call that failed (or was abandoned) before answering costs nothing.
            Effect.onExit((exit) => (Exit.isFailure(exit) ? release : Effect.void)),
            Effect.flatMap((response) => Usage.observe(response, settle)),
            Effect.map((response) =>
              Handler.withHeaders(response, {
                "x-sluice-budget-limit-usd": Prices.toUsd(limit).toFixed(9),
                "x-sluice-budget-remaining-usd": Prices.toUsd(limit - before).toFixed(9),
              }),
            ),
          )
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
        {
          ...(options.failMode === undefined ? {} : { failMode: options.failMode }),
          ...(options.defaultMaxOutputTokens === undefined
            ? {}
            : { defaultMaxOutputTokens: options.defaultMaxOutputTokens }),
        },
        "budgets",
      )
      const estimator = options.estimator ?? Tokens.fast
      return make(options, settings, Prices.table(prices), estimator)
    }),
  )
