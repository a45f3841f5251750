/**
 * The `tracing:`, `metrics:` and `logging:` config sections. Each switches on one output of the
 * tracing plugin; a section left out costs nothing on the request path.
 */
import { Config } from "@sluice/core"
import { Schema } from "effect"

const exporters = ["none", "console", "otlp"] as const
type Exporter = (typeof exporters)[number]

const Headers = Schema.Record({ key: Schema.String, value: Schema.Redacted(Schema.String) })

export const TracingSection = Schema.Struct({
  /** none: no spans; console: spans printed to stdout; otlp: OTLP/HTTP (protobuf-free JSON) to a collector. */
  exporter: Schema.optionalWith(
    Schema.String.pipe(
      Schema.filter((s): s is Exporter => exporters.includes(s as Exporter), {
        message: () => `expected one of ${exporters.join(", ")}`,
      }),
    ),
    { default: () => "none" as const },
  ),
  /** The collector's base URL (`http://collector:4318`) or its full `/v1/traces` URL. */
  endpoint: Schema.optional(Config.Url),
  /** Sent with every export (e.g. an API key for a hosted backend); kept redacted. */
  headers: Schema.optional(Headers),
  serviceName: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "sluice" }),
  /**
   * An `http.client` span under each attempt for the upstream HTTP call itself, with its request
   * and response headers as attributes (credentials redacted). Off by default: the attempt span
   * already stands for the call, and this span costs ~30 % of a traced JSON request's CPU.
   */
  httpSpans: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Fraction of new traces sampled (a client's sampled flag is followed). */
  sampleRatio: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 1 }),
}).pipe(
  Schema.filter((t) =>
    t.exporter === "otlp" && t.endpoint === undefined
      ? { path: ["endpoint"], message: "exporter otlp needs an endpoint URL" }
      : true,
  ),
)
export type TracingSection = typeof TracingSection.Type

export const MetricsSection = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Where Prometheus scrapes the text exposition. */
  path: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^\/[\w./-]*$/)), { default: () => "/metrics" }),
  /** Also push to an OTLP/HTTP collector. */
  otlp: Schema.optional(
    Schema.Struct({
      endpoint: Config.Url,
      headers: Schema.optional(Headers),
      interval: Schema.optionalWith(Config.Duration, { default: () => 60_000 }),
    }),
  ),
})
export type MetricsSection = typeof MetricsSection.Type

export const LoggingSection = Schema.Struct({
  /** One JSON access-log line per request on stdout. */
  access: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Include the prompt text (secrets masked). Off unless asked: prompts are user data. */
  prompts: Schema.optionalWith(Schema.Boolean, { default: () => false }),
})
export type LoggingSection = typeof LoggingSection.Type

/** `http://host:4318` → `http://host:4318/v1/traces`; a URL already ending in the path stays. */
export const otlpUrl = (endpoint: string, signal: "traces" | "metrics"): string => {
  const suffix = `/v1/${signal}`
  const trimmed = endpoint.replace(/\/+$/, "")
  return trimmed.endsWith(suffix) ? trimmed : `${trimmed}${suffix}`
}
