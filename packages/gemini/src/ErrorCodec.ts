/**
 * Errors both ways: a GatewayError → Google's `{error:{code,message,status,details}}` with the
 * RPC status string Google uses for that HTTP code; an upstream Gemini error body → a canonical
 * UpstreamError carrying the status (and RetryInfo's delay as retry-after).
 */
import { Either, Schema } from "effect"
import { Echo } from "@sluice/core"
import { Errors, type GatewayError } from "@sluice/schema"
import * as Wire from "./Wire.ts"

const rpcStatus: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "UNIMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
}

/** The HTTP code and RPC status a Gemini client is answered with. */
export const statusOf = (e: GatewayError): { code: number; status: string } => {
  const http = Errors.httpStatus(e)
  // Google has no 413 or 529: an oversized body is INVALID_ARGUMENT, an overloaded upstream UNAVAILABLE.
  if (http === 413) return { code: 400, status: "INVALID_ARGUMENT" }
  if (http === 529) return { code: 503, status: "UNAVAILABLE" }
  if (http === 502) return { code: 502, status: "UNAVAILABLE" }
  const status = rpcStatus[http]
  if (status !== undefined) return { code: http, status }
  if (http >= 500) return { code: http, status: "INTERNAL" }
  return { code: http, status: http === 422 ? "INVALID_ARGUMENT" : "FAILED_PRECONDITION" }
}

export interface RenderedError {
  readonly code: number
  readonly body: { error: { code: number; message: string; status: string; details?: Array<unknown> } }
  readonly headers: Record<string, string>
}

/** A GatewayError in Google's shape, with RetryInfo / BadRequest details where they apply. */
export const toGemini = (e: GatewayError): RenderedError => {
  const { code, status } = statusOf(e)
  const details: Array<unknown> = []
  const headers: Record<string, string> = {}
  const retry = Errors.retryAfter(e)
  if (retry !== undefined) {
    details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retry}s` })
    headers["retry-after"] = String(Math.ceil(retry))
  }
  if (e._tag === "InvalidRequest" && e.param !== undefined)
    details.push({
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      fieldViolations: [{ field: Echo.cap(e.param, 200), description: Echo.capMessage(e.message) }],
    })
  if (e._tag === "GuardrailViolation")
    details.push({
      "@type": "type.googleapis.com/google.rpc.ErrorInfo",
      reason: "GUARDRAIL_VIOLATION",
      domain: "sluice",
      metadata: { policy: e.policy },
    })
  // Whatever a message quotes, a client never gets more than a bounded line back.
  const message = Echo.capMessage(e.message)
  return {
    code,
    body: {
      error: details.length > 0 ? { code, message, status, details } : { code, message, status },
    },
    headers,
  }
}

const decodeBody = Schema.decodeUnknownEither(Schema.Union(Wire.ErrorBody, Schema.Tuple(Wire.ErrorBody)))

/** "32s" / "1.5s" → seconds. */
const seconds = (d: unknown): number | undefined => {
  if (typeof d !== "string") return undefined
  const m = /^(\d+(?:\.\d+)?)s$/.exec(d.trim())
  return m ? Number(m[1]) : undefined
}

/** An upstream error answer → UpstreamError (an invalid key becomes 401 for every client). */
export const fromGemini = (
  httpStatus: number,
  body: unknown,
  headers: Readonly<Record<string, string>>,
  provider: string,
): Errors.UpstreamError => {
  const decoded = decodeBody(body)
  const error = Either.isRight(decoded)
    ? (Array.isArray(decoded.right) ? decoded.right[0] : decoded.right).error
    : undefined
  let status = httpStatus
  let retryAfterSeconds: number | undefined
  for (const d of error?.details ?? []) {
    const type = typeof d["@type"] === "string" ? d["@type"] : ""
    if (type.endsWith("google.rpc.RetryInfo")) retryAfterSeconds = seconds(d.retryDelay)
    if (type.endsWith("google.rpc.ErrorInfo") && d.reason === "API_KEY_INVALID") status = 401
  }
  const header = headers["retry-after"]
  if (retryAfterSeconds === undefined && header !== undefined && /^\d+(\.\d+)?$/.test(header))
    retryAfterSeconds = Number(header)
  const message =
    error?.message ??
    (typeof body === "string" && body.length > 0 ? body.slice(0, 500) : `Gemini answered HTTP ${httpStatus}`)
  return new Errors.UpstreamError({
    message,
    status: status >= 400 && status <= 599 ? status : 502,
    provider,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  })
}
