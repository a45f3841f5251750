/**
 * The request log: one row per request — when, which key, the model as asked
 * and as served, provider, status, tokens, cost, latency, whether the cache answered, the error
 * class, and (only when configured) the prompt; requests refused before the handler (no or an
 * unknown key, an undecodable or oversized body) get a row with their status and error class.
 * Rows are written off the request path; a
 * database that is down loses rows (with a warning), never requests.
 */
import type { PgClient } from "@effect/sql-pg"
import type { GatewayRequest, GatewayResponse, HandlerFn, Ingress, MiddlewareFn } from "@sluice/core"
import { Prices } from "@sluice/ratelimit"
import { Errors, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"
import { Cause, Duration, Effect, Exit, Option, Redacted, Schedule, type Scope, Stream } from "effect"

export interface Row {
  readonly time: Date
  readonly requestId: string
  readonly keyId: string | null
  readonly keyName: string | null
  readonly ingress: string
  readonly operation: string
  readonly stream: boolean
  readonly modelRequested: string | null
  readonly modelServed: string | null
  readonly provider: string | null
  readonly status: number
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  readonly costUsd: number | null
  readonly latencyMs: number
  readonly cacheHit: boolean
  readonly errorClass: string | null
  readonly prompt: string | null
}

export interface Options {
  readonly sql: PgClient.PgClient
  /** Prices by model name, when the config has `prices:`. */
  readonly prices?: Prices.PriceTable | undefined
  /** The other names a model goes by once routed (for the price lookup). */
  readonly aliases: (model: string) => ReadonlyArray<string>
  readonly prompts: boolean
  /** Called after each row is written (the live tail). */
  readonly onRow?: ((row: Row) => void) | undefined
}

const maxPrompt = 64 * 1024
/** Model names come from clients: stored capped. */
const cap = (s: string | undefined, n = 256) => (s === undefined ? null : s.slice(0, n))

const operationOf = (r: GatewayRequest) =>
  r._tag === "Chat" ? "chat" : r._tag === "Embed" ? "embeddings" : r._tag === "CountTokens" ? "count_tokens" : "models"

const promptOf = (r: GatewayRequest): string | null => {
  if (r._tag === "Embed") return r.embed.inputs.join("\n").slice(0, maxPrompt)
  if (r._tag !== "Chat" && r._tag !== "CountTokens") return null
  let text = ""
  for (const m of r.chat.messages) {
    text += `${m.role}: `
    for (const p of m.parts) if (p.type === "text") text += p.text
    text += "\n"
    if (text.length > maxPrompt) break
  }
  // The caller's own credential never lands in the log, even if they pasted it.
  const credential = r.ctx.credential === undefined ? undefined : Redacted.value(r.ctx.credential)
  const scrubbed = credential !== undefined && credential.length >= 8 ? text.split(credential).join("[REDACTED]") : text
  return scrubbed.slice(0, maxPrompt)
}

interface Observation {
  model?: string
  usage?: Usage
  target?: string | undefined
  cacheHit: boolean
}

export const insert = (sql: PgClient.PgClient, row: Row) =>
  sql`INSERT INTO sluice_request_log ${sql.insert({
    time: row.time,
    request_id: row.requestId,
    key_id: row.keyId,
    key_name: row.keyName,
    ingress: row.ingress,
    operation: row.operation,
    stream: row.stream,
    model_requested: row.modelRequested,
    model_served: row.modelServed,
    provider: row.provider,
    status: row.status,
    input_tokens: row.inputTokens,
    output_tokens: row.outputTokens,
    cost_usd: row.costUsd,
    latency_ms: row.latencyMs,
    cache_hit: row.cacheHit,
    error_class: row.errorClass,
    prompt: row.prompt,
  })}`

/**
 * The middleware and the observer of refused requests (answered before the handler: no key, an
 * unknown key, a body that does not decode, one over the limit), which get a row too — with the
 * status and error class, and no model unless the ingress had read one.
 */
export const build = (
  options: Options,
): Effect.Effect<
  { readonly middleware: MiddlewareFn; readonly refused: (refused: Ingress.Refused) => void },
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    // Rows are written by a fiber of the gateway's scope, not of the request.
    const scope = yield* Effect.scope
    const write = (row: Row) =>
      insert(options.sql, row).pipe(
        Effect.timeout(Duration.seconds(10)),
        Effect.tap(() => Effect.sync(() => options.onRow?.(row))),
        Effect.catchAllCause(() => Effect.logWarning("request log: could not write a row (database unavailable?)")),
        Effect.forkIn(scope),
        Effect.asVoid,
      )

    const rowOf = (request: GatewayRequest, o: Observation, error: GatewayError | undefined, stream: boolean): Row => {
      const asked =
        request._tag === "Chat" || request._tag === "CountTokens"
          ? request.chat.model
          : request._tag === "Embed"
            ? request.embed.model
            : undefined
      const slash = o.target?.indexOf("/") ?? -1
      const price =
        options.prices === undefined || asked === undefined
          ? undefined
          : options.prices.find([asked, ...options.aliases(asked), o.model])
      const costUsd =
        o.usage === undefined
          ? null
          : o.cacheHit
            ? 0
            : price === undefined
              ? null
              : Prices.toUsd(Prices.costNanoUsd(price, o.usage))
      return {
        time: new Date(request.ctx.startedAt),
        requestId: request.ctx.id.slice(0, 128),
        keyId: request.ctx.principal?.id ?? null,
        keyName: request.ctx.principal?.name ?? null,
        ingress: request.ctx.ingress,
        operation: operationOf(request),
        stream,
        modelRequested: cap(asked),
        modelServed: cap(o.model),
        provider: o.target === undefined || slash <= 0 ? null : o.target.slice(0, slash),
        status: error === undefined ? 200 : Errors.httpStatus(error),
        inputTokens: o.usage?.inputTokens ?? null,
        outputTokens: o.usage?.outputTokens ?? null,
        costUsd,
        latencyMs: Math.max(0, Date.now() - request.ctx.startedAt),
        cacheHit: o.cacheHit,
        errorClass: error?._tag ?? null,
        prompt: options.prompts ? promptOf(request) : null,
      }
    }

    const failureOf = (cause: Cause.Cause<GatewayError>): GatewayError | undefined =>
      Option.getOrUndefined(Cause.failureOption(cause)) ??
      (Cause.isInterruptedOnly(cause) ? undefined : new Errors.Internal({ message: "internal error" }))

    const observe = (o: Observation, r: GatewayResponse) => {
      o.target = r.route?.target
      o.cacheHit = r.headers["x-sluice-cache"] === "hit"
      if (r._tag === "Chat") {
        o.model = r.chat.model
        o.usage = r.chat.usage
      } else if (r._tag === "Embed") {
        o.model = r.embed.model
        o.usage = { inputTokens: r.embed.usage.inputTokens, outputTokens: 0 }
      }
    }

    const observeEvent = (o: Observation, e: StreamEvent) => {
      if (e._tag === "start") o.model = e.model
      else if (e._tag === "usage" || e._tag === "finish") o.usage = e.usage
    }

    const middleware: MiddlewareFn =
      (next: HandlerFn): HandlerFn =>
      (request) => {
        if (request._tag === "ListModels") return next(request)
        const o: Observation = { cacheHit: false }
        return next(request).pipe(
          Effect.tap((r) => Effect.sync(() => observe(o, r))),
          Effect.map((r): GatewayResponse => {
            if (r._tag !== "ChatStream") return r
            const events = r.events.pipe(
              Stream.mapChunks((chunk) => {
                for (const e of chunk) observeEvent(o, e)
                return chunk
              }),
              Stream.ensuringWith((exit) => {
                if (Exit.isSuccess(exit)) return write(rowOf(request, o, undefined, true))
                const error = failureOf(exit.cause as Cause.Cause<GatewayError>)
                // A client that went away mid-stream: 499, as the access log has it.
                return write(
                  error === undefined
                    ? { ...rowOf(request, o, undefined, true), status: 499, errorClass: "ClientClosed" }
                    : rowOf(request, o, error, true),
                )
              }),
            )
            return { ...r, events }
          }),
          Effect.onExit((exit) => {
            if (Exit.isSuccess(exit))
              return exit.value._tag === "ChatStream" ? Effect.void : write(rowOf(request, o, undefined, false))
            const error = failureOf(exit.cause)
            return error === undefined
              ? Effect.void
              : write(rowOf(request, o, error, request._tag === "Chat" && request.chat.stream))
          }),
        )
      }

    const refused = (r: Ingress.Refused): void => {
      const row: Row = {
        time: new Date(r.ctx.startedAt),
        requestId: r.ctx.id.slice(0, 128),
        keyId: r.ctx.principal?.id ?? null,
        keyName: r.ctx.principal?.name ?? null,
        ingress: r.ctx.ingress,
        operation: "refused",
        stream: false,
        modelRequested: null,
        modelServed: null,
        provider: null,
        status: r.status,
        inputTokens: null,
        outputTokens: null,
        costUsd: null,
        latencyMs: Math.max(0, Date.now() - r.ctx.startedAt),
        cacheHit: false,
        errorClass: r.error?._tag ?? null,
        prompt: null,
      }
      Effect.runFork(write(row))
    }

    return { middleware, refused }
  })

/** The middleware alone (refused requests are not logged). */
export const make = (options: Options): Effect.Effect<MiddlewareFn, never, Scope.Scope> =>
  Effect.map(build(options), (log) => log.middleware)

/** Delete rows older than `retentionMs`, now and every hour, for the gateway's lifetime. */
export const retention = (sql: PgClient.PgClient, retentionMs: number): Effect.Effect<void, never, Scope.Scope> =>
  Effect.suspend(() => {
    const cutoff = new Date(Date.now() - retentionMs)
    return sql`DELETE FROM sluice_request_log WHERE time < ${cutoff}`
  }).pipe(
    Effect.catchAllCause(() => Effect.logWarning("request log: retention delete failed")),
    Effect.repeat(Schedule.spaced("1 hour")),
    Effect.forkScoped,
    Effect.asVoid,
  )
