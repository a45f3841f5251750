/**
 * `GET /admin/keys/{id}/usage`: a key's spend and usage for every period, behind the admin key.
 * (The rest of the admin API — create, list, revoke, rotate — is @sluice/auth's.)
 */
import { HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import type { Ingress } from "@sluice/core"
import { AdminGuard } from "@sluice/auth"
import type { Ledger } from "./Ledger.ts"
import * as Periods from "./Periods.ts"
import * as Prices from "./Prices.ts"

export const routes = (options: {
  readonly ledger: Ledger
  readonly adminKeyHash: string
  readonly now?: () => number
}): ReadonlyArray<Ingress.PlainRoute> => {
  const authorized = AdminGuard.make(options.adminKeyHash)
  return [
    {
      method: "GET",
      path: "/admin/keys/{id}/usage",
      handle: (request, params) => {
        if (!authorized(request.headers))
          return Effect.succeed(
            HttpServerResponse.unsafeJson(
              { error: { type: "authentication_error", message: "missing or invalid admin key" } },
              { status: 401 },
            ),
          )
        const now = (options.now ?? Date.now)()
        return options.ledger.usage(params.id!, now).pipe(
          Effect.map((usage) =>
            HttpServerResponse.unsafeJson({
              id: params.id,
              usage: Object.fromEntries(
                Periods.all.map((p) => {
                  const c = usage[p]
                  const reset = Periods.resetsAt(p, now)
                  return [
                    p,
                    {
                      period: Periods.key(p, now),
                      ...(reset === undefined ? {} : { resetsAt: reset.toISOString() }),
                      usd: Prices.toUsd(c.nanoUsd),
                      requests: c.requests,
                      inputTokens: c.inputTokens,
                      outputTokens: c.outputTokens,
                    },
                  ]
                }),
              ),
            }),
          ),
          Effect.catchAll(() =>
            Effect.succeed(
              HttpServerResponse.unsafeJson(
                { error: { type: "unavailable", message: "the usage ledger is unavailable" } },
                { status: 503 },
              ),
            ),
          ),
        )
      },
    },
  ]
}
