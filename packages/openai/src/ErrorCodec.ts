/**
 * Errors both ways: a GatewayError as OpenAI's `{error:{message,type,param,code}}` with its HTTP
 * status and retry headers; an OpenAI-format upstream's error answer as a GatewayError that keeps
 * the status and retry-after. Upstream messages are scrubbed of anything key-like first.
 */
import { Echo, Secrets } from "@sluice/core"
import { Errors, type GatewayError } from "@sluice/schema"
import { isRecord } from "./Decode.ts"
import type * as Wire from "./Wire.ts"

const typeAndCode = (e: GatewayError): { type: string; code: string | null } => {
  switch (e._tag) {
    case "InvalidRequest":
      return { type: "invalid_request_error", code: null }
    case "Unauthenticated":
      return { type: "invalid_request_error", code: "invalid_api_key" }
    case "PermissionDenied":
      return { type: "permission_error", code: "permission_denied" }
    case "NotFound":
      return { type: "invalid_request_error", code: /\bmodel\b/i.test(e.message) ? "model_not_found" : "not_found" }
    case "PayloadTooLarge":
      return { type: "invalid_request_error", code: "request_too_large" }
    case "RateLimited":
      return { type: "rate_limit_exceeded", code: "rate_limit_exceeded" }
    case "GuardrailViolation":
      return { type: "invalid_request_error", code: "content_policy_violation" }
    case "Timeout":
      return { type: "server_error", code: "timeout" }
    case "Unavailable":
      return { type: "server_error", code: "service_unavailable" }
    case "Internal":
      return { type: "server_error", code: null }
    case "UpstreamError": {
      const status = Errors.httpStatus(e)
      if (status === 429) return { type: "rate_limit_exceeded", code: "rate_limit_exceeded" }
      if (status === 401) return { type: "invalid_request_error", code: "invalid_api_key" }
      if (status === 404) return { type: "invalid_request_error", code: "model_not_found" }
      return status < 500 ? { type: "invalid_request_error", code: null } : { type: "server_error", code: null }
    }
  }
}

export const errorObject = (e: GatewayError): Wire.ErrorObject => ({
  // Whatever a message quotes, a client never gets more than a bounded line back.
  message: Echo.capMessage(e.message),
  ...typeAndCode(e),
  param: e._tag === "InvalidRequest" && e.param !== undefined ? Echo.cap(e.param, 200) : null,
})

/** Status, body and headers (retry-after for SDK backoff) of an error answer. */
export const encode = (
  e: GatewayError,
): { status: number; body: Wire.ErrorBody; headers: Record<string, string> | undefined } => {
  const retry = Errors.retryAfter(e)
  return {
    status: Errors.httpStatus(e),
    body: { error: errorObject(e) },
    headers:
      retry === undefined
        ? undefined
        : { "retry-after": String(Math.ceil(retry)), "retry-after-ms": String(Math.round(retry * 1000)) },
  }
}

// ---- upstream → canonical -------------------------------------------------------------------

/** Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date. */
export const retryAfterSeconds = (headers: Readonly<Record<string, string>>, now = Date.now()): number | undefined => {
  const ms = Number(headers["retry-after-ms"])
  if (headers["retry-after-ms"] !== undefined && Number.isFinite(ms) && ms >= 0) return ms / 1000
  const raw = headers["retry-after"]
  if (raw === undefined) return undefined
  const s = Number(raw)
  if (Number.isFinite(s) && s >= 0) return s
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000)
}

/** Remove key-looking tokens (OpenAI echoes a masked key on 401) and the key itself. */
export const scrub = (message: string, secrets: ReadonlyArray<string> = []): string => Secrets.scrub(message, secrets)

/** The message of an OpenAI-shaped error body, or of the variants compatible servers send. */
export const upstreamMessage = (body: unknown): string | undefined => {
  if (!isRecord(body)) return undefined
  const err = body.error
  if (isRecord(err) && typeof err.message === "string") return err.message
  if (typeof err === "string") return err
  if (typeof body.message === "string") return body.message
  if (typeof body.detail === "string") return body.detail
  return undefined
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** An upstream error answer → UpstreamError with its status and retry-after. */
export const fromUpstream = (
  status: number,
  headers: Readonly<Record<string, string>>,
  text: string,
  provider: string,
  secrets: ReadonlyArray<string> = [],
): Errors.UpstreamError => {
  const retry = retryAfterSeconds(headers)
  // A credential complaint is about the gateway's key, not the client's: say so without details.
  const detail =
    status === 401 || status === 403
      ? "the provider rejected the gateway's credentials"
      : scrub(upstreamMessage(parseJson(text)) ?? (text.slice(0, 500) || "no details"), secrets)
  return new Errors.UpstreamError({
    message: `provider "${provider}" answered ${status}: ${detail}`,
    status,
    provider,
    ...(retry === undefined ? {} : { retryAfterSeconds: retry }),
  })
}

/** A `data: {"error":…}` frame in the middle of an upstream stream. */
export const fromStreamFrame = (body: unknown, provider: string, secrets: ReadonlyArray<string> = []) => {
  const err = isRecord(body) ? body.error : undefined
  const code = isRecord(err) ? err.code : undefined
  const status = typeof code === "number" && code >= 400 && code <= 599 ? code : 502
  const message = scrub(upstreamMessage(body) ?? "stream error", secrets)
  return new Errors.UpstreamError({ message: `provider "${provider}" failed mid-stream: ${message}`, status, provider })
}
