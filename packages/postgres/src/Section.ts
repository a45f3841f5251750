/** The `database:` section. */
import { Config } from "@sluice/core"
import { ParseResult, Redacted, Schema } from "effect"

const PgUrl = Schema.transformOrFail(Schema.Unknown, Schema.RedactedFromSelf(Schema.String), {
  strict: true,
  // The URL may carry a password: a bad value is reported without echoing it.
  decode: (u, _, ast) =>
    typeof u === "string" && /^postgres(ql)?:\/\/./.test(u)
      ? ParseResult.succeed(Redacted.make(u))
      : ParseResult.fail(new ParseResult.Type(ast, undefined, "expected a postgres:// or postgresql:// URL")),
  encode: (r) => ParseResult.succeed(Redacted.value(r)),
})

export const Section = Schema.Struct({
  url: PgUrl,
  /** Pool size per instance. */
  maxConnections: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 100)), { default: () => 10 }),
  /** Bound on each query on the request path; past it auth fails closed (503). */
  timeout: Schema.optionalWith(Config.Duration, { default: () => 2_000 }),
  /** Write one row per request to `sluice_request_log`. */
  requestLog: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Also store the prompt text (secrets scrubbed) in the request log. */
  prompts: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Request-log rows older than this are deleted (checked at start and every hour). */
  retention: Schema.optionalWith(Config.Duration, { default: () => 30 * 24 * 3_600_000 }),
})
export type Section = typeof Section.Type

/** The url without credentials, safe to print. */
export const describe = (url: Redacted.Redacted<string>): string => {
  try {
    const u = new URL(Redacted.value(url))
    return `postgres://${u.hostname}:${u.port || "5432"}${u.pathname}`
  } catch {
    return "postgres"
  }
}
