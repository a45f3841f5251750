/**
 * GatewayError ⇄ Anthropic's `{type:"error", error:{type, message}}`, both ways: the ingress
 * renders canonical errors with Anthropic's status and type; the provider turns upstream error
 * answers (and `event: error` frames) back into canonical errors.
 */
import { Echo } from "@sluice/core"
import { Errors, type GatewayError } from "@sluice/schema"
import type { ErrorBody } from "./Wire.ts"

/** Anthropic's error type for an HTTP status. */
export const typeForStatus = (status: number): string => {
  switch (status) {
    case 400:
      return "invalid_request_error"
    case 401:
      return "authentication_error"
    case 402:
      return "billing_error"
    case 403:
      return "permission_error"
    case 404:
      return "not_found_error"
    case 409:
      return "conflict_error"
    case 413:
      return "request_too_large"
    case 429:
      return "rate_limit_error"
    case 503:
    case 529:
      return "overloaded_error"
    case 504:
      return "timeout_error"
    default:
      return status >= 400 && status < 500 ? "invalid_request_error" : "api_error"
  }
}

/** The status Anthropic answers an error type with (for `event: error` frames, which carry none). */
export const statusForType = (type: string): number => {
  switch (type) {
    case "invalid_request_error":
      return 400
    case "authentication_error":
      return 401
    case "billing_error":
      return 402
    case "permission_error":
      return 403
    case "not_found_error":
      return 404
    case "conflict_error":
      return 409
    case "request_too_large":
      return 413
    case "rate_limit_error":
      return 429
    case "timeout_error":
      return 504
    case "overloaded_error":
      return 529
    default:
      return 500
  }
}

export interface Rendered {
  readonly status: number
  readonly body: ErrorBody
  readonly headers: Record<string, string>
}

/** A GatewayError as Anthropic would answer it. */
export const render = (error: GatewayError): Rendered => {
  const status = Errors.httpStatus(error)
  const type = error._tag === "GuardrailViolation" ? "invalid_request_error" : typeForStatus(status)
  const retry = Errors.retryAfter(error)
  return {
    status,
    // Whatever a message quotes, a client never gets more than a bounded line back.
    body: { type: "error", error: { type, message: Echo.capMessage(error.message) } },
    headers: retry === undefined ? {} : { "retry-after": String(Math.max(0, Math.ceil(retry))) },
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/** Read `{error:{type,message}}` from an upstream body, whatever else it holds. */
export const readBody = (body: unknown): { type?: string; message?: string } => {
  const error = isRecord(body) ? body.error : undefined
  if (!isRecord(error)) return {}
  const out: { type?: string; message?: string } = {}
  if (typeof error.type === "string") out.type = error.type
  if (typeof error.message === "string") out.message = error.message
  return out
}

const parseRetryAfter = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const n = Number(value)
  if (Number.isFinite(n) && n >= 0) return n
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}

/** An upstream Anthropic error answer as a canonical error; the status is kept. */
export const fromUpstream = (
  status: number,
  body: unknown,
  provider: string,
  retryAfterHeader?: string,
): GatewayError => {
  const { type, message } = readBody(body)
  const retryAfterSeconds = parseRetryAfter(retryAfterHeader)
  return new Errors.UpstreamError({
    message: `${provider}: ${message ?? `upstream answered HTTP ${status}`}${type !== undefined ? ` (${type})` : ""}`,
    status,
    provider,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  })
}

/** An `event: error` frame received mid-stream. */
export const fromStreamError = (body: unknown, provider: string): GatewayError => {
  const { type } = readBody(body)
  return fromUpstream(statusForType(type ?? "api_error"), body, provider)
}
