/**
 * The span pipeline from the `tracing:` section: an SDK TracerProvider with the configured
 * exporter (console, OTLP/HTTP), batched off the request path, flushed when the gateway closes.
 */
import type { Tracer } from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import type { Resource } from "@opentelemetry/resources"
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type SpanExporter,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base"
import { Effect, Redacted, type Scope } from "effect"
import { otlpUrl, type TracingSection } from "./Options.ts"

const exporterOf = (section: TracingSection): SpanExporter | undefined => {
  switch (section.exporter) {
    case "none":
      return undefined
    case "console":
      return new ConsoleSpanExporter()
    case "otlp": {
      const headers =
        section.headers === undefined
          ? undefined
          : Object.fromEntries(Object.entries(section.headers).map(([k, v]) => [k, Redacted.value(v)]))
      return new OTLPTraceExporter({
        url: otlpUrl(section.endpoint ?? "", "traces"),
        ...(headers !== undefined ? { headers } : {}),
      })
    }
  }
}

/** A tracer for the section, or undefined when spans are off (exporter none). */
export const make = (
  section: TracingSection,
  resource: Resource,
): Effect.Effect<Tracer | undefined, never, Scope.Scope> => {
  const exporter = exporterOf(section)
  if (exporter === undefined) return Effect.succeed(undefined)
  return Effect.map(
    Effect.acquireRelease(
      Effect.sync(
        () =>
          new BasicTracerProvider({
            resource,
            sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(section.sampleRatio) }),
            // Every attribute is bounded, whatever a caller or an upstream sent (ids, messages, headers).
            spanLimits: { attributeValueLengthLimit: 4096 },
            // Console output is for local debugging: print each span as it ends.
            spanProcessors: [
              section.exporter === "console" ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter),
            ],
          }),
      ),
      (provider) => Effect.promise(() => provider.shutdown().catch(() => undefined)),
    ),
    (provider) => provider.getTracer("@sluice/tracing"),
  )
}
