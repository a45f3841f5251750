/**
 * Gemini batches, run by the gateway itself (Engine) for any upstream:
 * `POST /v1beta/models/{model}:batchGenerateContent` (inlined requests, or a JSONL file of
 * `{"key","request"}` lines uploaded through the Files API), `GET /v1beta/batches/{id}` and
 * `GET /v1beta/batches` as Google's long-running operation (`metadata.state`, `metadata.output`
 * — what @google/genai reads), `POST /v1beta/batches/{id}:cancel` and `DELETE`. Results are
 * inline (`inlinedResponses`, in input order) or a generated file (`responsesFile`) for
 * `files.download`.
 */
import { Effect, Option } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { type HandlerFn, type Ingress, ModelId } from "@sluice/core"
import { Ingress as GeminiIngress, Request as GeminiRequest } from "@sluice/gemini"
import { type BatchRecord, type Item, type State, terminal } from "./BatchStore.ts"
import type { Engine } from "./Engine.ts"
import { orFail } from "./Errors.ts"
import { isId, newId } from "./FileStore.ts"
import { nextToken, page } from "./GeminiFiles.ts"
import * as Items from "./Items.ts"
import { authorize } from "./Owner.ts"
import { type Json, isObj, json } from "./Json.ts"

const run = (effect: Effect.Effect<Ingress.Reply, GatewayError>): Effect.Effect<Ingress.Reply> =>
  Effect.catchAll(effect, (e) => Effect.succeed(GeminiIngress.error(e)))

const states: Record<State, string> = {
  pending: "BATCH_STATE_PENDING",
  running: "BATCH_STATE_RUNNING",
  // Google has no wire value for a batch being cancelled: it is still running.
  cancelling: "BATCH_STATE_RUNNING",
  succeeded: "BATCH_STATE_SUCCEEDED",
  failed: "BATCH_STATE_FAILED",
  cancelled: "BATCH_STATE_CANCELLED",
  expired: "BATCH_STATE_EXPIRED",
}

const rfc3339 = (ms: number) => new Date(ms).toISOString()

/** A batch as Google's operation; `inlined` are its inline responses when it has finished. */
export const toOperation = (r: BatchRecord, inlined?: ReadonlyArray<Json>): Json => {
  const pending = Math.max(0, r.total - r.succeeded - r.failed)
  const metadata: Json = {
    "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
    name: `batches/${r.id}`,
    model: `models/${r.model ?? ""}`,
    displayName: r.displayName ?? "",
    inputConfig: r.inputFileId === undefined ? {} : { fileName: `files/${r.inputFileId}` },
    createTime: rfc3339(r.createdAt),
    updateTime: rfc3339(r.updatedAt),
    batchStats: {
      requestCount: String(r.total),
      successfulRequestCount: String(r.succeeded),
      failedRequestCount: String(r.failed),
      pendingRequestCount: String(pending),
    },
    state: states[r.state],
  }
  if (r.endedAt !== undefined) metadata.endTime = rfc3339(r.endedAt)
  let output: Json | undefined
  if (r.outputFileId !== undefined) output = { responsesFile: `files/${r.outputFileId}` }
  else if (inlined !== undefined) output = { inlinedResponses: { inlinedResponses: inlined } }
  if (output !== undefined) metadata.output = output
  const op: Json = { name: `batches/${r.id}`, metadata, done: terminal(r.state) }
  if (terminal(r.state) && output !== undefined)
    op.response = {
      "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
      ...output,
    }
  return op
}

const notFound = (id: string) =>
  new Errors.NotFound({
    message: isId(id) ? `Requested entity was not found: batches/${id}` : "Requested entity was not found",
  })

const bad = (message: string, param?: string) => new Errors.InvalidRequest({ message, param })

/** Accept both spellings Google accepts on input. */
const field = (o: Json, camel: string, snake: string): unknown => (camel in o ? o[camel] : o[snake])

const create = (engine: Engine, maxItems: number) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const model = yield* ModelId.check(GeminiRequest.modelId(request.params.model ?? ""))
      const body = yield* request.json
      const batch = isObj(body) ? body.batch : undefined
      if (!isObj(batch)) return yield* Effect.fail(bad("batch is required", "batch"))
      const displayName = field(batch, "displayName", "display_name")
      if (displayName !== undefined && (typeof displayName !== "string" || displayName.length > 512))
        return yield* Effect.fail(
          bad("batch.displayName must be a string of at most 512 characters", "batch.displayName"),
        )
      const input = field(batch, "inputConfig", "input_config")
      if (!isObj(input)) return yield* Effect.fail(bad("batch.inputConfig is required", "batch.inputConfig"))
      const fileName = field(input, "fileName", "file_name")
      const requests = input.requests
      let items: Array<Item>
      let inputFileId: string | undefined
      if (fileName !== undefined) {
        if (requests !== undefined)
          return yield* Effect.fail(
            bad("give inputConfig.fileName or inputConfig.requests, not both", "batch.inputConfig"),
          )
        const m = typeof fileName === "string" ? /^files\/([a-z0-9]{1,40})$/.exec(fileName) : null
        const data = m === null ? undefined : yield* orFail(engine.files.read(owner, m[1]!))
        if (data === undefined)
          return yield* Effect.fail(
            new Errors.NotFound({ message: "batch.inputConfig.fileName names no file of this key (files/…)" }),
          )
        inputFileId = m![1]!
        items = Items.geminiLines(new TextDecoder().decode(data))
      } else {
        const list = isObj(requests) ? requests.requests : undefined
        if (!Array.isArray(list))
          return yield* Effect.fail(
            bad("batch.inputConfig needs requests: {requests: [{request: {…}}]} or fileName", "batch.inputConfig"),
          )
        items = Items.geminiInline(list)
      }
      if (items.length === 0) return yield* Effect.fail(bad("the batch has no requests", "batch.inputConfig"))
      if (items.length > maxItems)
        return yield* Effect.fail(
          bad(
            `the batch has ${items.length} requests; at most ${maxItems} are taken (batches.maxItems)`,
            "batch.inputConfig",
          ),
        )
      const now = Date.now()
      const record: BatchRecord = {
        id: newId(),
        owner,
        format: "gemini",
        model,
        displayName: typeof displayName === "string" ? displayName : undefined,
        inputFileId,
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
      return json(toOperation(stored))
    }),
  )

const found = (engine: Engine, request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.gen(function* () {
    const owner = yield* authorize(request, handler)
    const id = request.params.id ?? ""
    const record = yield* orFail(engine.batches.get(owner, id))
    if (record === undefined || record.format !== "gemini") return yield* Effect.fail(notFound(id))
    return { owner, record }
  })

/** The operation, with inline responses read back once the batch has finished. */
const operationOf = (engine: Engine, record: BatchRecord) =>
  Effect.gen(function* () {
    if (!terminal(record.state) || record.inputFileId !== undefined) return toOperation(record)
    const items = yield* orFail(engine.batches.items(record.id))
    const results = yield* orFail(engine.batches.results(record.id))
    return toOperation(record, Items.geminiInlined(items, results))
  })

const get = (engine: Engine) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { record } = yield* found(engine, request, handler)
      return json(yield* operationOf(engine, record))
    }),
  )

const list = (engine: Engine) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const { offset, size } = yield* page(request.query, 50, 1000)
      const all = (yield* orFail(engine.batches.list(owner))).filter((r) => r.format === "gemini").reverse()
      const operations = yield* Effect.forEach(all.slice(offset, offset + size), (r) => operationOf(engine, r))
      const body: Json = { operations }
      const next = nextToken(offset, size, all.length)
      if (Option.isSome(next)) body.nextPageToken = next.value
      return json(body)
    }),
  )

const cancel = (engine: Engine) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { owner, record } = yield* found(engine, request, handler)
      yield* orFail(engine.cancel(owner, record.id))
      return json({})
    }),
  )

const remove = (engine: Engine) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { owner, record } = yield* found(engine, request, handler)
      // A running batch stops at its next item; its state and results go now.
      yield* orFail(engine.cancel(owner, record.id))
      yield* orFail(engine.batches.remove(record.id))
      return json({})
    }),
  )

export const routes = (engine: Engine, prefix: string, maxItems: number): ReadonlyArray<Ingress.Route> => [
  {
    method: "POST",
    path: `${prefix}/v1beta/models/{model+}:batchGenerateContent`,
    handle: create(engine, maxItems),
  },
  { method: "POST", path: `${prefix}/v1beta/batches/{id}:cancel`, handle: cancel(engine) },
  { method: "GET", path: `${prefix}/v1beta/batches`, handle: list(engine) },
  { method: "GET", path: `${prefix}/v1beta/batches/{id}`, handle: get(engine) },
  { method: "DELETE", path: `${prefix}/v1beta/batches/{id}`, handle: remove(engine) },
]
