/**
 * Credential headers are recorded as `<redacted>` on the HttpClient's `http.client` span (it
 * records every request header as an attribute) and wherever Headers are logged. The platform's
 * default list knows only `authorization`, `cookie`, `set-cookie` and `x-api-key`, so Gemini's
 * `x-goog-api-key`, Azure's `api-key` and anything an operator puts in `headers:` would be
 * exported in clear. The registry gives every provider a client that redacts its own list.
 */
import { Headers, HttpClient } from "@effect/platform"
import { Effect } from "effect"
import * as Upstream from "./Upstream.ts"

/** Every provider's client redacts these, whatever its type says. */
export const defaults: ReadonlyArray<string | RegExp> = [
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "x-goog-api-key",
  "api-key",
  "cookie",
  "set-cookie",
  // Names that say they carry a credential (x-portkey-api-key, x-auth-token, x-amz-security-token, …).
  /(?:^|-)(?:auth|authorization|key|apikey|token|secret|password|signature|credential|session)s?(?:-|$)/i,
]

/** `client`, with `names` added to the redacted header names for each of its calls. */
export const redacting = (
  client: HttpClient.HttpClient,
  names: ReadonlyArray<string | RegExp>,
): HttpClient.HttpClient => {
  // The gateway's own client redacts on the calls that make a span, and costs nothing on the others.
  const own = Upstream.withRedactedNames(client, names)
  if (own !== undefined) return own
  const extend = Upstream.extendingWith(names.map((n) => (typeof n === "string" ? n.toLowerCase() : n)))
  return HttpClient.transformResponse(client, (effect) =>
    Effect.locallyWith(effect, Headers.currentRedactedNames, extend),
  )
}
