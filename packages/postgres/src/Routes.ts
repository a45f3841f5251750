/**
 * Admin routes over the request log, behind the admin key: `GET /admin/requests` (newest first,
 * filtered by key, model, status or time; paged by `before` id) and `GET /admin/usage/daily`
 * (requests, tokens and cost per key, model and UTC day).
 */
import { HttpServerResponse } from "@effect/platform"
import type { PgClient } from "@effect/sql-pg"
import { AdminGuard } from "@sluice/auth"
import type { Ingress } from "@sluice/core"
import { Effect } from "effect"

const denied = HttpServerResponse.unsafeJson(
  { error: { type: "authentication_error", message: "missing or invalid admin key" } },
  { status: 401 },
)
const unavailable = HttpServerResponse.unsafeJson(
  { error: { type: "unavailable", message: "the request log is unavailable" } },
  { status: 503 },
)
const bad = (field: string, message: string) =>
  HttpServerResponse.unsafeJson({ error: { type: "invalid_request_error", param: field, message } }, { status: 400 })

const intParam = (query: URLSearchParams, name: string, min: number, max: number, fallback: number) => {
  const raw = query.get(name)
  if (raw === null || raw === "") return fallback
  const n = Number(raw)
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined
}

interface LogRow {
  readonly id: string
  readonly time: Date
  readonly request_id: string
  readonly key_id: string | null
  readonly key_name: string | null
  readonly ingress: string
  readonly operation: string
  readonly stream: boolean
  readonly model_requested: string | null
  readonly model_served: string | null
  readonly provider: string | null
  readonly status: number
  readonly input_tokens: number | null
  readonly output_tokens: number | null
  readonly cost_usd: number | null
  readonly latency_ms: number
  readonly cache_hit: boolean
  readonly error_class: string | null
  readonly prompt: string | null
}

export const view = (r: LogRow) => ({
  id: Number(r.id),
  time: new Date(r.time).toISOString(),
  requestId: r.request_id,
  keyId: r.key_id,
  keyName: r.key_name,
  ingress: r.ingress,
  operation: r.operation,
  stream: r.stream,
  modelRequested: r.model_requested,
  modelServed: r.model_served,
  provider: r.provider,
  status: r.status,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  costUsd: r.cost_usd,
  latencyMs: r.latency_ms,
  cacheHit: r.cache_hit,
  errorClass: r.error_class,
  ...(r.prompt !== null ? { prompt: r.prompt } : {}),
})

export const routes = (options: {
  readonly sql: PgClient.PgClient
  readonly adminKeyHash: string
}): ReadonlyArray<Ingress.PlainRoute> => {
  const authorized = AdminGuard.make(options.adminKeyHash)
  const { sql } = options
  return [
    {
      method: "GET",
      path: "/admin/requests",
      handle: (request) => {
        if (!authorized(request.headers)) return Effect.succeed(denied)
        const url = new URL(request.url, "http://localhost")
        const q = url.searchParams
        const limit = intParam(q, "limit", 1, 500, 100)
        if (limit === undefined) return Effect.succeed(bad("limit", "limit must be an integer from 1 to 500"))
        const before = intParam(q, "before", 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
        if (before === undefined) return Effect.succeed(bad("before", "before must be a row id"))
        const status = intParam(q, "status", 100, 599, 0)
        if (status === undefined) return Effect.succeed(bad("status", "status must be an HTTP status"))
        const sinceRaw = q.get("since")
        const since = sinceRaw === null || sinceRaw === "" ? undefined : new Date(sinceRaw)
        if (since !== undefined && Number.isNaN(since.getTime()))
          return Effect.succeed(bad("since", "since must be an ISO 8601 time"))
        const key = (q.get("key") ?? "").slice(0, 256)
        const model = (q.get("model") ?? "").slice(0, 256)
        const conditions = [sql`id < ${before}`]
        if (key !== "") conditions.push(sql`(key_id = ${key} OR key_name = ${key})`)
        if (model !== "") conditions.push(sql`(model_requested = ${model} OR model_served = ${model})`)
        if (status !== 0) conditions.push(sql`status = ${status}`)
        if (since !== undefined) conditions.push(sql`time >= ${since}`)
        return sql<LogRow>`SELECT * FROM sluice_request_log WHERE ${sql.and(conditions)} ORDER BY id DESC LIMIT ${limit}`.pipe(
          Effect.map((rows) => HttpServerResponse.unsafeJson({ data: rows.map(view) })),
          Effect.catchAll(() => Effect.succeed(unavailable)),
        )
      },
    },
    {
      method: "GET",
      path: "/admin/usage/daily",
      handle: (request) => {
        if (!authorized(request.headers)) return Effect.succeed(denied)
        const q = new URL(request.url, "http://localhost").searchParams
        const days = intParam(q, "days", 1, 366, 30)
        if (days === undefined) return Effect.succeed(bad("days", "days must be an integer from 1 to 366"))
        const since = new Date(Date.now() - days * 86_400_000)
        return sql<{
          day: string
          key: string | null
          model: string | null
          requests: string
          input_tokens: string | null
          output_tokens: string | null
          cost_usd: number | null
          cache_hits: string
        }>`SELECT to_char(date_trunc('day', time AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
                  coalesce(key_name, key_id) AS key, model_requested AS model,
                  count(*) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                  sum(cost_usd) AS cost_usd, count(*) FILTER (WHERE cache_hit) AS cache_hits
             FROM sluice_request_log WHERE time >= ${since}
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`.pipe(
          Effect.map((rows) =>
            HttpServerResponse.unsafeJson({
              data: rows.map((r) => ({
                day: r.day,
                key: r.key,
                model: r.model,
                requests: Number(r.requests),
                inputTokens: Number(r.input_tokens ?? 0),
                outputTokens: Number(r.output_tokens ?? 0),
                costUsd: r.cost_usd ?? 0,
                cacheHits: Number(r.cache_hits),
              })),
            }),
          ),
          Effect.catchAll(() => Effect.succeed(unavailable)),
        )
      },
    },
  ]
}
