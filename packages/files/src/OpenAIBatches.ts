/**
 * OpenAI's `/v1/batches` over the gateway's `/v1/files`: create (`input_file_id`, `endpoint`
 * `/v1/chat/completions` or `/v1/embeddings`, `completion_window: "24h"`, `metadata`), retrieve,
 * list (`after`, `limit`) and cancel. The gateway runs the lines itself (Engine) for any
 * upstream; answers go to `output_file_id`, failures — including lines that are not valid JSON
 * or not a valid request, each named by its line — to `error_file_id`.
 */
import { Effect } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Echo, type HandlerFn, type Ingress } from "@sluice/core"
import { Ingress as OpenAIIngress } from "@sluice/openai"
import type { BatchRecord, State } from "./BatchStore.ts"
import type { Engine } from "./Engine.ts"
import { orFail } from "./Errors.ts"
import { newId } from "./FileStore.ts"
import * as Items from "./Items.ts"
import { openaiId, storeIdOf } from "./OpenAIFiles.ts"
import { authorize } from "./Owner.ts"
import { type Json, isObj, json, openaiLimit, openaiPage } from "./Json.ts"

const run = (effect: Effect.Effect<Ingress.Reply, GatewayError>): Effect.Effect<Ingress.Reply> =>
  Effect.catchAll(effect, (e) => Effect.succeed(OpenAIIngress.error(e)))

const statuses: Record<State, string> = {
  pending: "validating",
  running: "in_progress",
  cancelling: "cancelling",
  succeeded: "completed",
  failed: "failed",
  cancelled: "cancelled",
  expired: "expired",
}

const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.floor(ms / 1000))

export const batchId = (id: string) => `batch_${id}`
const storeBatchId = (id: string) => /^batch_([a-z0-9]{1,40})$/.exec(id)?.[1]

export const toOpenAI = (
  r: BatchRecord,
  lines: ReadonlyArray<{ readonly line?: number | undefined; readonly invalid?: string | undefined }> = [],
): Json => {
  const errors = lines.filter((l) => l.invalid !== undefined)
  return {
    id: batchId(r.id),
    object: "batch",
    endpoint: r.endpoint ?? "/v1/chat/completions",
    errors:
      errors.length === 0
        ? null
        : {
            object: "list",
            data: errors
              .slice(0, 100)
              .map((l) => ({ code: "invalid_request", message: l.invalid, param: null, line: l.line ?? null })),
          },
    input_file_id: r.inputFileId === undefined ? null : openaiId(r.inputFileId),
    completion_window: "24h",
    status: statuses[r.state],
    output_file_id: r.outputFileId === undefined ? null : openaiId(r.outputFileId),
    error_file_id: r.errorFileId === undefined ? null : openaiId(r.errorFileId),
    created_at: seconds(r.createdAt),
    in_progress_at: seconds(r.startedAt),
    expires_at: seconds(r.createdAt + 24 * 3_600_000),
    finalizing_at: r.state === "succeeded" ? seconds(r.endedAt) : null,
    completed_at: r.state === "succeeded" ? seconds(r.endedAt) : null,
    failed_at: r.state === "failed" ? seconds(r.endedAt) : null,
    expired_at: r.state === "expired" ? seconds(r.endedAt) : null,
    cancelling_at: seconds(r.cancellingAt),
    cancelled_at: r.state === "cancelled" ? seconds(r.endedAt) : null,
    request_counts: { total: r.total, completed: r.succeeded, failed: r.failed },
    usage: {
      input_tokens: r.inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: r.outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: r.inputTokens + r.outputTokens,
    },
    metadata: r.metadata ?? null,
  }
}

const bad = (message: string, param?: string) => new Errors.InvalidRequest({ message, param })

const create = (engine: Engine, maxItems: number) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const body = yield* request.json
      if (!isObj(body)) return yield* Effect.fail(bad("expected a JSON object"))
      const { input_file_id: inputFileId, endpoint, completion_window: window, metadata } = body
      if (typeof inputFileId !== "string")
        return yield* Effect.fail(bad("Missing required parameter: 'input_file_id'.", "input_file_id"))
      if (typeof endpoint !== "string" || !(Items.openaiEndpoints as ReadonlyArray<string>).includes(endpoint))
        return yield* Effect.fail(
          bad(`endpoint must be one of ${Items.openaiEndpoints.join(", ")} (this gateway runs those)`, "endpoint"),
        )
      if (window !== "24h") return yield* Effect.fail(bad("completion_window must be 24h", "completion_window"))
      let meta: Record<string, string> | undefined
      if (metadata !== undefined && metadata !== null) {
        if (!isObj(metadata) || Object.keys(metadata).length > 16)
          return yield* Effect.fail(bad("metadata must be an object of at most 16 string values", "metadata"))
        meta = {}
        for (const [k, v] of Object.entries(metadata)) {
          if (typeof v !== "string" || k.length > 64 || v.length > 512)
            return yield* Effect.fail(
              bad("metadata keys are at most 64 and values at most 512 characters (strings)", "metadata"),
            )
          meta[k] = v
        }
      }
      const id = storeIdOf(inputFileId)
      const file = id === undefined ? undefined : yield* orFail(engine.files.get(owner, id))
      const data = file === undefined ? undefined : yield* orFail(engine.files.read(owner, file.id))
      if (file === undefined || data === undefined)
        return yield* Effect.fail(new Errors.NotFound({ message: `No such File object: ${Echo.cap(inputFileId, 64)}` }))
      if (file.purpose !== "batch")
        return yield* Effect.fail(bad("the input file must have been uploaded with purpose batch", "input_file_id"))
      const items = Items.openaiLines(new TextDecoder().decode(data), endpoint)
      if (items.length === 0) return yield* Effect.fail(bad("the input file has no lines", "input_file_id"))
      if (items.length > maxItems)
        return yield* Effect.fail(
          bad(
            `the input file has ${items.length} lines; at most ${maxItems} are taken (batches.maxItems)`,
            "input_file_id",
          ),
        )
      const now = Date.now()
      const record: BatchRecord = {
        id: newId(),
        owner,
        format: "openai",
        endpoint,
        metadata: meta,
        inputFileId: file.id,
        state: "pending",
        createdAt: now,
        updatedAt: now,
        total: items.length,
        succeeded: 0,
        failed: 0,
        inputTokens: 0,
        outputTokens: 0,
      }
      const stored = yield* orFail(engine.submit(record, items, request.ctx.credential))
      return json(toOpenAI(stored, items))
    }),
  )

const found = (engine: Engine, request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.gen(function* () {
    const owner = yield* authorize(request, handler)
    const given = request.params.id ?? ""
    const id = storeBatchId(given)
    const record = id === undefined ? undefined : yield* orFail(engine.batches.get(owner, id))
    if (record === undefined || record.format !== "openai")
      return yield* Effect.fail(new Errors.NotFound({ message: `No batch found with id '${Echo.cap(given, 64)}'.` }))
    return { owner, record }
  })

const withLines = (engine: Engine, record: BatchRecord) =>
  Effect.map(orFail(engine.batches.items(record.id)), (items) => toOpenAI(record, items))

const retrieve = (engine: Engine) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { record } = yield* found(engine, request, handler)
      return json(yield* withLines(engine, record))
    }),
  )

const cancel = (engine: Engine) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { owner, record } = yield* found(engine, request, handler)
      const next = yield* orFail(engine.cancel(owner, record.id))
      return json(toOpenAI(next ?? record))
    }),
  )

const list = (engine: Engine) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const limit = yield* openaiLimit(request.query, 20, 100)
      const all = (yield* orFail(engine.batches.list(owner))).filter((r) => r.format === "openai").reverse()
      return json(
        openaiPage(
          all,
          request.query.get("after"),
          limit,
          (r) => batchId(r.id),
          (r) => toOpenAI(r),
        ),
      )
    }),
  )

export const routes = (engine: Engine, maxItems: number): ReadonlyArray<Ingress.Route> => [
  { method: "POST", path: "/v1/batches", handle: create(engine, maxItems) },
  { method: "GET", path: "/v1/batches", handle: list(engine) },
  { method: "POST", path: "/v1/batches/{id}/cancel", handle: cancel(engine) },
  { method: "GET", path: "/v1/batches/{id}", handle: retrieve(engine) },
]
