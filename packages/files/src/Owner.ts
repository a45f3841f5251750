/**
 * Whose files and batches a request may see: the scope of the key it presented (a SHA-256 of
 * it, never the key), as for stored Responses. A caller the middleware would refuse learns
 * nothing: its answer to a model listing (auth, when configured) runs first.
 */
import { createHash } from "node:crypto"
import { Effect, Redacted } from "effect"
import type { GatewayError } from "@sluice/schema"
import type { HandlerFn, Ingress, RequestContext } from "@sluice/core"

export const scopeOf = (credential: Redacted.Redacted<string> | undefined): string => {
  const key = credential === undefined ? "" : Redacted.value(credential)
  return key === "" ? "anonymous" : createHash("sha256").update(key).digest("hex")
}

export const ownerOf = (ctx: RequestContext): string => scopeOf(ctx.credential)

/** The caller's owner scope, once the middleware (auth) let it through. */
export const authorize = (request: Ingress.IngressRequest, handler: HandlerFn): Effect.Effect<string, GatewayError> =>
  Effect.as(handler({ _tag: "ListModels", ctx: request.ctx }), ownerOf(request.ctx))
