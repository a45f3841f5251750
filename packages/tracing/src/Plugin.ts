/**
 * The `tracing` plugin for the YAML-driven gateway: reads `tracing:` (spans), `metrics:`
 * (Prometheus at /metrics, optional OTLP push) and `logging:` (the access log). It is installed
 * when any of the three sections is present; each section switches on only its own output.
 */
import { Config, type Middleware } from "@sluice/core"
import { Effect, Either, type Schema } from "effect"
import * as Labels from "./Labels.ts"
import { LoggingSection, MetricsSection, TracingSection } from "./Options.ts"
import * as Refused from "./Refused.ts"

const decode = <A, I>(schema: Schema.Schema<A, I>, value: unknown, path: string) =>
  value === undefined ? Either.right(undefined) : Config.decodeSection(schema, value, path)

const issuesOf = (r: Either.Either<unknown, Config.ConfigError>) => (Either.isLeft(r) ? r.left.issues : [])

const stdout = (line: string) => {
  process.stdout.write(`${line}\n`)
}

export const plugin: Middleware.Plugin = {
  name: "tracing",
  sections: { tracing: TracingSection, metrics: MetricsSection, logging: LoggingSection },
  fromConfig: (config) =>
    Effect.gen(function* () {
      if (config.tracing === undefined && config.metrics === undefined && config.logging === undefined) return undefined
      // Decode all three before failing so one start reports every bad key.
      const t = decode(TracingSection, config.tracing, "tracing")
      const m = decode(MetricsSection, config.metrics, "metrics")
      const l = decode(LoggingSection, config.logging, "logging")
      const issues = [...issuesOf(t), ...issuesOf(m), ...issuesOf(l)]
      if (issues.length > 0) return yield* Effect.fail(new Config.ConfigError({ issues }))
      const tracing = Either.getOrUndefined(t)
      const metrics = Either.getOrUndefined(m)
      const logging = Either.getOrUndefined(l)
      // The OTel SDK is loaded only by a config that uses it.
      const [{ resourceFromAttributes }, Spans, Metrics, TracingMiddleware] = yield* Effect.promise(() =>
        Promise.all([
          import("@opentelemetry/resources"),
          import("./Spans.ts"),
          import("./Metrics.ts"),
          import("./Middleware.ts"),
        ]),
      )
      const resource = resourceFromAttributes({ "service.name": tracing?.serviceName ?? "sluice" })
      const tracer = tracing === undefined ? undefined : yield* Spans.make(tracing, resource)
      const meters = metrics?.enabled === true ? yield* Metrics.make(metrics, resource) : undefined
      const accessLog = logging?.access === true ? { write: stdout, prompts: logging.prompts } : undefined
      const middleware = yield* TracingMiddleware.make({
        tracer,
        metrics: meters?.instruments,
        accessLog,
        modelLabel: Labels.modelLabels(config),
        httpSpans: tracing?.httpSpans,
      })
      return {
        middleware,
        routes: meters === undefined ? [] : [meters.route],
        refused: Refused.observer({ metrics: meters?.instruments, accessLog }),
      }
    }),
}
