/**
 * GatewayError: every failure the gateway can report. Each ingress renders these in its own
 * wire shape and HTTP status, before a stream starts or in the middle of one. Messages are
 * client-facing: they never carry a secret.
 */
import * as Schema from "effect/Schema"

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  message: Schema.String,
  /** Path of the offending field, e.g. `contents[0].parts[1].inlineData`. */
  param: Schema.optional(Schema.String),
}) {}

export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", {
  message: Schema.String,
}) {}

export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", {
  message: Schema.String,
}) {}

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  message: Schema.String,
}) {}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  message: Schema.String,
}) {}

export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  message: Schema.String,
  retryAfterSeconds: Schema.optional(Schema.Number),
}) {}

/** The upstream answered with an error status (or broke its protocol). */
export class UpstreamError extends Schema.TaggedError<UpstreamError>()("UpstreamError", {
  message: Schema.String,
  /** The upstream's HTTP status; 502 when it broke the protocol or the connection failed. */
  status: Schema.Number,
  provider: Schema.optional(Schema.String),
  retryAfterSeconds: Schema.optional(Schema.Number),
}) {}

export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  message: Schema.String,
}) {}

export class GuardrailViolation extends Schema.TaggedError<GuardrailViolation>()("GuardrailViolation", {
  message: Schema.String,
  policy: Schema.String,
}) {}

/** The gateway cannot take the request now (draining, all targets cooled down). */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  message: Schema.String,
  retryAfterSeconds: Schema.optional(Schema.Number),
}) {}

export class Internal extends Schema.TaggedError<Internal>()("Internal", {
  message: Schema.String,
}) {}

export const GatewayError = Schema.Union(
  InvalidRequest,
  Unauthenticated,
  PermissionDenied,
  NotFound,
  PayloadTooLarge,
  RateLimited,
  UpstreamError,
  Timeout,
  GuardrailViolation,
  Unavailable,
  Internal,
)
export type GatewayError = typeof GatewayError.Type

const tags = new Set(GatewayError.members.map((m) => m._tag))
export const isGatewayError = (u: unknown): u is GatewayError =>
  typeof u === "object" && u !== null && "_tag" in u && tags.has((u as { _tag: string })._tag as never)

/** The HTTP status an error is answered with, whatever the wire format. */
export const httpStatus = (e: GatewayError): number => {
  switch (e._tag) {
    case "InvalidRequest":
    case "GuardrailViolation":
      return 400
    case "Unauthenticated":
      return 401
    case "PermissionDenied":
      return 403
    case "NotFound":
      return 404
    case "PayloadTooLarge":
      return 413
    case "RateLimited":
      return 429
    case "UpstreamError":
      return e.status >= 400 && e.status <= 599 ? e.status : 502
    case "Timeout":
      return 504
    case "Unavailable":
      return 503
    case "Internal":
      return 500
  }
}

/** Seconds a client should wait before retrying, when the error says. */
export const retryAfter = (e: GatewayError): number | undefined =>
  e._tag === "RateLimited" || e._tag === "UpstreamError" || e._tag === "Unavailable" ? e.retryAfterSeconds : undefined
