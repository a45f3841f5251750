/**
 * The tracing middleware: per request, one OTel span with the GenAI semantic conventions (kept
 * open until a stream ends), the request metrics and one JSON access-log line. Upstream
 * attempts (core's `sluice.attempt` Effect spans) become children of the request span because
 * `next` runs under an OTel-backed Effect Tracer with the request span as parent, and the
 * upstream sees our span in `traceparent`.
 *
 * Everything heavy (providers, instruments, the Effect tracer) is built once in `make`; per
 * request there is one small mutable record.
 */
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import {
  type Attributes,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer as OtelTracerApi,
} from "@opentelemetry/api"
import {
  Chunked,
  type GatewayRequest,
  type GatewayResponse,
  type HandlerFn,
  Middleware as MiddlewareM,
  type MiddlewareFn,
  type MiddlewareSpec,
  type RequestNotes,
  Upstream,
} from "@sluice/core"
import { Errors, type GatewayError, Parts, type StreamEvent, type Usage } from "@sluice/schema"
import { Cause, Effect, Exit, Option, Redacted, Stream, type Tracer } from "effect"
import type { Instruments } from "./Metrics.ts"
import * as Labels from "./Labels.ts"
import * as Redact from "./Redact.ts"
import { RequestSpan } from "./RequestSpan.ts"
import * as Traceparent from "./Traceparent.ts"

export interface AccessLogOptions {
  /** Where each line goes (stdout in the app; a collector in tests). */
  readonly write: (line: string) => void
  /** Include the prompt text, secrets masked. */
  readonly prompts: boolean
}

export interface Options {
  /** Spans on when given (an SDK tracer from a TracerProvider). */
  readonly tracer?: OtelTracerApi | undefined
  readonly metrics?: Instruments | undefined
  readonly accessLog?: AccessLogOptions | undefined
  /**
   * The metric label of a requested model, from a bounded set (`Labels.modelLabels(config)`);
   * without it every model is `other` — a caller's string never becomes a label.
   */
  readonly modelLabel?: ((model: string) => string) | undefined
  /** An `http.client` span per upstream call under each attempt (see `Upstream.currentHttpSpans`). */
  readonly httpSpans?: boolean | undefined
}

const operationOf = (r: GatewayRequest): string => {
  switch (r._tag) {
    case "Chat":
      return "chat"
    case "Embed":
      return "embeddings"
    case "CountTokens":
      return "count_tokens"
    case "ListModels":
      return "list_models"
  }
}

const modelOf = (r: GatewayRequest): string | undefined =>
  r._tag === "Chat" || r._tag === "CountTokens" ? r.chat.model : r._tag === "Embed" ? r.embed.model : undefined

/** What one request did; filled in as the answer flows, reported once at the end. */
interface Observation {
  readonly request: GatewayRequest
  readonly operation: string
  readonly model: string | undefined
  readonly span: Span | undefined
  /** What inner middleware sees as the current span (annotations land here). */
  readonly effectSpan: RequestSpan
  /** Typed notes inner middleware leave for us (auth: the verified key). */
  readonly notes: RequestNotes
  target?: string
  attempts?: string
  responseModel?: string
  responseId?: string
  finishReason?: string
  usage?: Usage
  /** ms since the request arrived. */
  ttftMs?: number
  /** The response cache's verdict (`x-sluice-cache`), when the cache considered the request. */
  cache?: "hit" | "miss" | "bypass"
  stream: boolean
  done: boolean
}

const isContent = (e: StreamEvent) =>
  e._tag === "text_delta" || e._tag === "reasoning_delta" || e._tag === "tool_call_start" || e._tag === "image"

const promptText = (r: GatewayRequest): string => {
  if (r._tag === "Embed") return r.embed.inputs.join("\n")
  if (r._tag !== "Chat" && r._tag !== "CountTokens") return ""
  const lines: Array<string> = []
  for (const m of r.chat.messages) {
    let text = ""
    for (const p of m.parts) {
      if (p.type === "text") text += p.text
      else if (p.type === "tool_call") text += `${p.name}(${p.arguments})`
      else if (p.type === "tool_result") text += Parts.textOf(p.content)
    }
    lines.push(`${m.role}: ${text}`)
  }
  return lines.join("\n")
}

const startAttributes = (request: GatewayRequest, operation: string, model: string | undefined): Attributes => {
  const ctx = request.ctx
  const a: Attributes = {
    "gen_ai.operation.name": operation,
    "sluice.request.id": ctx.id,
    "sluice.ingress": ctx.ingress,
  }
  if (model !== undefined) a["gen_ai.request.model"] = Labels.cap(model, Labels.maxId)
  if (ctx.principal !== undefined) a["sluice.key.name"] = ctx.principal.name
  if (request._tag === "Chat") {
    const c = request.chat
    a["gen_ai.request.stream"] = c.stream
    if (c.maxTokens !== undefined) a["gen_ai.request.max_tokens"] = c.maxTokens
    if (c.temperature !== undefined) a["gen_ai.request.temperature"] = c.temperature
    if (c.topP !== undefined) a["gen_ai.request.top_p"] = c.topP
    if (c.topK !== undefined) a["gen_ai.request.top_k"] = c.topK
    if (c.seed !== undefined) a["gen_ai.request.seed"] = c.seed
    if (c.stop !== undefined) a["gen_ai.request.stop_sequences"] = [...c.stop]
  }
  return a
}

const errorOf = (cause: Cause.Cause<GatewayError>): { status: number; type: string; message: string } => {
  if (Cause.isInterruptedOnly(cause)) return { status: 499, type: "Cancelled", message: "client went away" }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    return { status: Errors.httpStatus(e), type: e._tag, message: Labels.cap(e.message, Labels.maxMessage) }
  }
  return { status: 500, type: "Internal", message: "internal gateway error" }
}

/** Run a stream's pulls under the tracer with `parent` as the current span. */
/**
 * Run a stream's first pull under the request span: a lazily opened stream makes its upstream
 * call (and its attempt spans) there. Later pulls only move data, and wrapping each of them in
 * OTel context doubled the CPU cost of a streamed request (bench/README.md).
 */
const underSpan = <A, E>(stream: Stream.Stream<A, E>, tracer: Tracer.Tracer, parent: Tracer.AnySpan) =>
  Stream.fromPull(
    Effect.map(Stream.toPull(stream), (pull) => {
      const traced = pull.pipe(Effect.withParentSpan(parent), Effect.withTracer(tracer))
      let opened = false
      return Effect.suspend(() => {
        if (opened) return pull
        opened = true
        return traced
      })
    }),
  )

export const make = (options: Options): Effect.Effect<MiddlewareFn> =>
  Effect.gen(function* () {
    const otel = options.tracer
    const effectTracer =
      otel === undefined ? undefined : yield* OtelTracer.make.pipe(Effect.provideService(OtelTracer.OtelTracer, otel))
    const { metrics, accessLog } = options
    const modelLabel = options.modelLabel ?? (() => Labels.other)
    // Nothing to record (exporter none, no metrics, no log): cost nothing per request.
    if (otel === undefined && metrics === undefined && accessLog === undefined) return (next: HandlerFn) => next

    const begin = (request: GatewayRequest): Observation => {
      const operation = operationOf(request)
      const model = modelOf(request)
      let span: Span | undefined
      if (otel !== undefined) {
        const headers = request.ctx.headers
        const parent = Traceparent.parse(headers.traceparent)
        const parentContext =
          parent === undefined
            ? ROOT_CONTEXT
            : trace.setSpanContext(ROOT_CONTEXT, {
                ...parent,
                isRemote: true,
                ...(headers.tracestate !== undefined ? { traceState: createTraceState(headers.tracestate) } : {}),
              })
        span = otel.startSpan(
          model === undefined ? operation : `${operation} ${Labels.cap(model, Labels.maxId)}`,
          {
            kind: SpanKind.SERVER,
            startTime: request.ctx.startedAt,
            attributes: startAttributes(request, operation, model),
          },
          parentContext,
        )
      }
      const effectSpan = new RequestSpan(operation, span)
      const notes = request.ctx.notes ?? {}
      return { request, operation, model, span, effectSpan, notes, stream: false, done: false }
    }

    const observeEvent = (o: Observation, e: StreamEvent) => {
      if (o.ttftMs === undefined && isContent(e)) o.ttftMs = Date.now() - o.request.ctx.startedAt
      switch (e._tag) {
        case "start":
          o.responseId = e.id
          o.responseModel = e.model
          break
        case "usage":
          o.usage = e.usage
          break
        case "finish":
          o.usage = e.usage
          o.finishReason = e.finishReason
          break
      }
    }

    const observeResponse = (o: Observation, r: GatewayResponse) => {
      if (r.route !== undefined) {
        o.target = r.route.target
        o.attempts = String(r.route.attempts)
      }
      const cache = r.headers["x-sluice-cache"]
      if (cache === "hit" || cache === "miss" || cache === "bypass") o.cache = cache
      switch (r._tag) {
        case "Chat":
          o.responseId = r.chat.id
          o.responseModel = r.chat.model
          o.finishReason = r.chat.finishReason
          o.usage = r.chat.usage
          break
        case "Embed":
          o.responseModel = r.embed.model
          o.usage = { inputTokens: r.embed.usage.inputTokens, outputTokens: 0 }
          break
        case "CountTokens":
          break
        case "ListModels":
          break
        case "ChatStream":
          o.stream = true
          break
      }
    }

    /** Report once: end the span, record metrics, write the log line. */
    const finish = (o: Observation, error: { status: number; type: string; message: string } | undefined) => {
      if (o.done) return
      o.done = true
      const latencyMs = Date.now() - o.request.ctx.startedAt
      // A principal set before us (tracing inside auth), or the one auth noted further in.
      const keyName = o.request.ctx.principal?.name ?? o.notes.principal?.name
      const provider = o.target === undefined ? undefined : o.target.slice(0, o.target.indexOf("/"))
      const usage = o.usage
      const span = o.span
      if (span !== undefined) {
        if (provider !== undefined) span.setAttribute("gen_ai.provider.name", provider)
        if (o.target !== undefined) span.setAttribute("sluice.target", Labels.cap(o.target, Labels.maxId))
        if (keyName !== undefined) span.setAttribute("sluice.key.name", Labels.cap(keyName, Labels.maxId))
        if (o.attempts !== undefined) span.setAttribute("sluice.attempts", Number(o.attempts))
        if (o.responseModel !== undefined)
          span.setAttribute("gen_ai.response.model", Labels.cap(o.responseModel, Labels.maxId))
        if (o.responseId !== undefined) span.setAttribute("gen_ai.response.id", o.responseId)
        if (o.finishReason !== undefined) span.setAttribute("gen_ai.response.finish_reasons", [o.finishReason])
        if (usage !== undefined) {
          span.setAttribute("gen_ai.usage.input_tokens", usage.inputTokens)
          span.setAttribute("gen_ai.usage.output_tokens", usage.outputTokens)
          if (usage.reasoningTokens !== undefined)
            span.setAttribute("gen_ai.usage.reasoning.output_tokens", usage.reasoningTokens)
          if (usage.cachedInputTokens !== undefined)
            span.setAttribute("gen_ai.usage.cache_read.input_tokens", usage.cachedInputTokens)
          if (usage.cacheCreationInputTokens !== undefined)
            span.setAttribute("gen_ai.usage.cache_creation.input_tokens", usage.cacheCreationInputTokens)
        }
        if (o.ttftMs !== undefined) span.setAttribute("gen_ai.response.time_to_first_chunk", o.ttftMs / 1000)
        span.setAttribute("http.response.status_code", error === undefined || error.status === 499 ? 200 : error.status)
        if (error !== undefined) {
          span.setAttribute("error.type", error.type)
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message })
        }
        span.end()
      }
      if (metrics !== undefined) {
        const attrs: Attributes = { "gen_ai.operation.name": o.operation }
        if (provider !== undefined) attrs["gen_ai.provider.name"] = provider
        // A label from the config's bounded set; a caller refused as unknown adds none.
        if (o.model !== undefined)
          attrs["gen_ai.request.model"] = error?.status === 401 ? Labels.other : modelLabel(o.model)
        if (keyName !== undefined) attrs["sluice.key.name"] = keyName
        if (o.cache !== undefined) attrs["sluice.cache"] = o.cache
        metrics.requests.add(1, attrs)
        metrics.duration.record(latencyMs / 1000, attrs)
        if (error !== undefined) metrics.errors.add(1, { ...attrs, "error.type": error.type })
        if (o.ttftMs !== undefined) metrics.ttft.record(o.ttftMs / 1000, attrs)
        if (usage !== undefined && o.cache === "hit") {
          // Answered from the cache: nothing was used upstream.
          metrics.tokensSaved.add(usage.inputTokens + usage.outputTokens, attrs)
        } else if (usage !== undefined) {
          metrics.tokens.add(usage.inputTokens, { ...attrs, "gen_ai.token.type": "input" })
          metrics.tokens.add(usage.outputTokens, { ...attrs, "gen_ai.token.type": "output" })
          if (usage.reasoningTokens !== undefined)
            metrics.tokens.add(usage.reasoningTokens, { ...attrs, "gen_ai.token.type": "reasoning" })
        }
      }
      if (accessLog !== undefined) {
        const ctx = o.request.ctx
        const line: Record<string, unknown> = {
          time: new Date().toISOString(),
          type: "access",
          id: ctx.id,
          key: keyName ?? null,
          ingress: ctx.ingress,
          operation: o.operation,
          model: o.model === undefined ? null : Labels.cap(o.model, Labels.maxId),
          target: o.target === undefined ? null : Labels.cap(o.target, Labels.maxId),
          stream: o.stream,
          status: error === undefined ? 200 : error.status,
          latency_ms: latencyMs,
        }
        if (o.ttftMs !== undefined) line.ttft_ms = o.ttftMs
        if (o.attempts !== undefined) line.attempts = Number(o.attempts)
        if (o.cache !== undefined) line.cache = o.cache
        if (o.finishReason !== undefined) line.finish_reason = Labels.cap(o.finishReason, 64)
        const agent = ctx.headers["user-agent"]
        if (agent !== undefined) line.user_agent = Labels.cap(agent, Labels.maxId)
        if (usage !== undefined) {
          line.tokens = {
            input: usage.inputTokens,
            output: usage.outputTokens,
            ...(usage.reasoningTokens !== undefined ? { reasoning: usage.reasoningTokens } : {}),
          }
        }
        if (error !== undefined) line.error = { type: error.type, message: error.message }
        if (span !== undefined) line.trace_id = span.spanContext().traceId
        if (accessLog.prompts) {
          const credential = ctx.credential === undefined ? undefined : Redacted.value(ctx.credential)
          line.prompt = Redact.secrets(promptText(o.request), credential)
        }
        accessLog.write(JSON.stringify(line))
      }
    }

    const observeStream = (
      o: Observation,
      events: Stream.Stream<StreamEvent, GatewayError>,
      opened: boolean,
    ): Stream.Stream<StreamEvent, GatewayError> => {
      // One observer (a pulled stream stays pulled): every event seen, the span finished once.
      const observed = Chunked.observe(events, () => ({
        chunk: (chunk) => {
          for (const e of chunk) observeEvent(o, e)
          return undefined
        },
        done: (exit) =>
          Effect.sync(() =>
            finish(o, Exit.isFailure(exit) ? errorOf(exit.cause as Cause.Cause<GatewayError>) : undefined),
          ),
      }))
      // A stream opened before it was returned makes no call when pulled: nothing to put under the span.
      return effectTracer !== undefined && o.span !== undefined && !opened
        ? underSpan(observed, effectTracer, o.effectSpan)
        : observed
    }

    return (next: HandlerFn): HandlerFn =>
      (request) => {
        const o = begin(request)
        let call: Effect.Effect<GatewayResponse, GatewayError>
        if (o.span !== undefined && effectTracer !== undefined) {
          // The upstream (and every attempt) continues our trace, not the client's span.
          const forwarded: GatewayRequest = {
            ...request,
            ctx: {
              ...request.ctx,
              notes: o.notes,
              headers: { ...request.ctx.headers, traceparent: Traceparent.format(o.span.spanContext()) },
            },
          }
          call = next(forwarded).pipe(Effect.withParentSpan(o.effectSpan), Effect.withTracer(effectTracer))
          if (options.httpSpans === true) call = Effect.locally(call, Upstream.currentHttpSpans, true)
        } else {
          const noted: GatewayRequest =
            request.ctx.notes === o.notes ? request : { ...request, ctx: { ...request.ctx, notes: o.notes } }
          call = Effect.withParentSpan(next(noted), o.effectSpan)
        }
        return call.pipe(
          Effect.map((response) => {
            observeResponse(o, response)
            return response._tag === "ChatStream"
              ? { ...response, events: observeStream(o, response.events, response.opened === true) }
              : response
          }),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isFailure(exit)) finish(o, errorOf(exit.cause))
              else if (!o.stream) finish(o, undefined)
            }),
          ),
        )
      }
  })

/** `Tracing.middleware(options)`: the middleware as a pipeline entry, for programmatic gateways. */
export const middleware = (options: Options): MiddlewareSpec => MiddlewareM.make("tracing", make(options))
