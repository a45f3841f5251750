/**
 * Request metrics through the OTel metrics SDK: one MeterProvider per gateway with a Prometheus
 * reader (served at `GET /metrics` by the gateway itself, no second port) and, when configured,
 * an OTLP/HTTP push reader. Names follow the GenAI semantic conventions where one exists.
 */
import { HttpServerResponse } from "@effect/platform"
import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import type { Resource } from "@opentelemetry/resources"
import { MeterProvider, type IMetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import type { Ingress } from "@sluice/core"
import { Effect, Redacted, type Scope } from "effect"
import { type MetricsSection, otlpUrl } from "./Options.ts"

/** GenAI semconv advice: operation duration buckets (seconds). */
const durationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
/** GenAI semconv advice: time-to-first-token buckets (seconds). */
const ttftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

export interface Instruments {
  /** sluice.requests — every request, by operation, provider, model, key. */
  readonly requests: Counter
  /** sluice.errors — failed requests (before or during a stream), plus `error.type`. */
  readonly errors: Counter
  /** gen_ai.server.request.duration — until the last byte of the answer. */
  readonly duration: Histogram
  /** gen_ai.server.time_to_first_token — streamed answers only. */
  readonly ttft: Histogram
  /** sluice.tokens — tokens used, by `gen_ai.token.type` (input | output | reasoning). */
  readonly tokens: Counter
  /** sluice.cache.tokens_saved — tokens a response-cache hit did not spend upstream. */
  readonly tokensSaved: Counter
}

export const instruments = (meter: Meter): Instruments => ({
  requests: meter.createCounter("sluice.requests", { description: "Requests handled", unit: "{request}" }),
  errors: meter.createCounter("sluice.errors", { description: "Requests that failed", unit: "{request}" }),
  duration: meter.createHistogram("gen_ai.server.request.duration", {
    description: "Time from request to the end of the answer",
    unit: "s",
    advice: { explicitBucketBoundaries: durationBuckets },
  }),
  ttft: meter.createHistogram("gen_ai.server.time_to_first_token", {
    description: "Time from request to the first streamed content",
    unit: "s",
    advice: { explicitBucketBoundaries: ttftBuckets },
  }),
  tokens: meter.createCounter("sluice.tokens", { description: "Tokens used", unit: "{token}" }),
  tokensSaved: meter.createCounter("sluice.cache.tokens_saved", {
    description: "Tokens answered from the response cache instead of upstream",
    unit: "{token}",
  }),
})

export interface MetricsRuntime {
  readonly instruments: Instruments
  readonly route: Ingress.PlainRoute
  readonly provider: MeterProvider
}

const headersOf = (h: Readonly<Record<string, Redacted.Redacted<string>>> | undefined) =>
  h === undefined ? undefined : Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Redacted.value(v)]))

/** Prometheus exposition of everything the provider's readers collected so far. */
export const prometheusRoute = (path: string, reader: PrometheusExporter): Ingress.PlainRoute => {
  const serializer = new PrometheusSerializer()
  return {
    method: "GET",
    path,
    handle: () =>
      Effect.promise(() => reader.collect()).pipe(
        Effect.map(({ resourceMetrics }) =>
          HttpServerResponse.text(serializer.serialize(resourceMetrics), {
            contentType: "text/plain; version=0.0.4; charset=utf-8",
          }),
        ),
      ),
  }
}

/** Build the meter provider for the gateway's lifetime; readers are flushed and shut at close. */
export const make = (section: MetricsSection, resource: Resource): Effect.Effect<MetricsRuntime, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const prometheus = new PrometheusExporter({ preventServerStart: true })
      const readers: Array<IMetricReader> = [prometheus]
      if (section.otlp !== undefined) {
        const headers = headersOf(section.otlp.headers)
        readers.push(
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({
              url: otlpUrl(section.otlp.endpoint, "metrics"),
              ...(headers !== undefined ? { headers } : {}),
            }),
            exportIntervalMillis: section.otlp.interval,
            exportTimeoutMillis: Math.min(30_000, section.otlp.interval),
          }),
        )
      }
      const provider = new MeterProvider({ resource, readers })
      return {
        provider,
        instruments: instruments(provider.getMeter("@sluice/tracing")),
        route: prometheusRoute(section.path, prometheus),
      }
    }),
    (m) => Effect.promise(() => m.provider.shutdown().catch(() => undefined)),
  )

export type { Attributes }
