/**
 * One batch item through the gateway's own handler — auth as the creating key, rate limits,
 * budgets, guardrails, routing and fallbacks, exactly as if the client had sent it — and its
 * answer in the batch's wire format. Also the input lines' decoding and the results' shapes.
 */
import { Effect } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Collect, type HandlerFn, type RequestContext } from "@sluice/core"
import { ErrorCodec as GeminiErrors, Request as GeminiRequest, Response as GeminiResponse } from "@sluice/gemini"
import { EmbeddingsCodec, ErrorCodec as OpenAIErrors, RequestCodec, ResponseCodec } from "@sluice/openai"
import type { BatchRecord, Item, Result } from "./BatchStore.ts"
import { newId } from "./FileStore.ts"
import { type Json, isObj } from "./Json.ts"

export interface Outcome {
  readonly ok: boolean
  readonly status: number
  readonly body: unknown
  readonly inputTokens: number
  readonly outputTokens: number
}

/** An item answered: its wire body and the tokens it used. */
const answered = (
  body: unknown,
  usage: { readonly inputTokens?: number; readonly outputTokens?: number } | undefined,
): Outcome => ({
  ok: true,
  status: 200,
  body,
  inputTokens: usage?.inputTokens ?? 0,
  outputTokens: usage?.outputTokens ?? 0,
})

/** Endpoints an OpenAI batch may call. */
export const openaiEndpoints = ["/v1/chat/completions", "/v1/embeddings"] as const

const geminiError = (e: GatewayError): Outcome => {
  const r = GeminiErrors.toGemini(e)
  return { ok: false, status: r.code, body: (r.body as { error: unknown }).error, inputTokens: 0, outputTokens: 0 }
}

const openaiError = (e: GatewayError): Outcome => {
  const r = OpenAIErrors.encode(e)
  return { ok: false, status: r.status, body: r.body, inputTokens: 0, outputTokens: 0 }
}

const chatOf = (handler: HandlerFn, ctx: RequestContext, chat: Parameters<HandlerFn>[0] & { _tag: "Chat" }) =>
  Effect.flatMap(handler(chat), (response) =>
    response._tag === "Chat"
      ? Effect.succeed(response.chat)
      : response._tag === "ChatStream"
        ? Collect.collect(response.events)
        : Effect.fail<GatewayError>(
            new Errors.Internal({ message: `the gateway answered ${response._tag} to a chat` }),
          ),
  ).pipe(Effect.withSpan("sluice.batch.item", { attributes: { "sluice.request.id": ctx.id } }))

/** Run one item; never fails (a failure is the item's error result). */
export const run = (
  record: BatchRecord,
  item: Item,
  handler: HandlerFn,
  ctx: RequestContext,
): Effect.Effect<Outcome> =>
  record.format === "gemini" ? runGemini(record, item, handler, ctx) : runOpenAI(record, item, handler, ctx)

const runGemini = (record: BatchRecord, item: Item, handler: HandlerFn, ctx: RequestContext): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    if (item.invalid !== undefined) return yield* Effect.fail(new Errors.InvalidRequest({ message: item.invalid }))
    const model = record.model ?? ""
    const request = isObj(item.request) ? { ...item.request } : item.request
    if (isObj(request) && "model" in request) {
      // js-genai names the model in each inlined request too: it must be the batch's.
      const named = typeof request.model === "string" ? GeminiRequest.modelId(request.model) : undefined
      if (named !== model)
        return yield* Effect.fail(
          new Errors.InvalidRequest({
            message: `the request's model must be the batch's (models/${model})`,
            param: "model",
          }),
        )
      delete request.model
    }
    const chat = yield* GeminiRequest.decode(request, { model, stream: false })
    const answer = yield* chatOf(handler, ctx, { _tag: "Chat", ctx, chat })
    return answered(GeminiResponse.toGemini(answer), answer.usage)
  }).pipe(Effect.catchAll((e) => Effect.succeed(geminiError(e))))

const runOpenAI = (record: BatchRecord, item: Item, handler: HandlerFn, ctx: RequestContext): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    if (item.invalid !== undefined) return yield* Effect.fail(new Errors.InvalidRequest({ message: item.invalid }))
    if (record.endpoint === "/v1/embeddings") {
      const { embed, encoding } = yield* EmbeddingsCodec.decode(item.request)
      const response = yield* handler({ _tag: "Embed", ctx, embed })
      if (response._tag !== "Embed")
        return yield* Effect.fail(
          new Errors.Internal({ message: `the gateway answered ${response._tag} to embeddings` }),
        )
      return answered(EmbeddingsCodec.encode(response.embed, encoding), {
        inputTokens: response.embed.usage?.inputTokens,
      })
    }
    const { chat } = yield* RequestCodec.decode(item.request)
    const answer = yield* chatOf(handler, ctx, { _tag: "Chat", ctx, chat: { ...chat, stream: false } })
    return answered(ResponseCodec.encode(answer), answer.usage)
  }).pipe(Effect.catchAll((e) => Effect.succeed(openaiError(e))))

// ---- input ----------------------------------------------------------------------------------

const flatStrings = (u: unknown): Record<string, string> | undefined => {
  if (!isObj(u)) return undefined
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(u)) if (typeof v === "string") out[k] = v.slice(0, 512)
  return out
}

/** Lines of a JSONL file; a line that is not JSON is an item that says so. */
const jsonLines = (text: string, each: (value: Json, line: number) => Item): Array<Item> => {
  const out: Array<Item> = []
  for (const [i, raw] of text.split("\n").entries()) {
    const line = i + 1
    if (raw.trim() === "") continue
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      out.push({ line, invalid: `line ${line}: not valid JSON` })
      continue
    }
    out.push(isObj(value) ? each(value, line) : { line, invalid: `line ${line}: expected a JSON object` })
  }
  return out
}

/** Gemini's batch input file: `{"key": …, "request": GenerateContentRequest}` per line. */
export const geminiLines = (text: string): Array<Item> =>
  jsonLines(text, (v, line) => {
    const key = typeof v.key === "string" ? v.key.slice(0, 256) : undefined
    if (!isObj(v.request)) return { line, key, invalid: `line ${line}: expected a "request" object` }
    return { line, key, request: v.request }
  })

/** Gemini's inlined requests: `[{request, metadata?}]`. */
export const geminiInline = (requests: ReadonlyArray<unknown>): Array<Item> =>
  requests.map((r, i) => {
    if (!isObj(r) || !isObj(r.request)) return { invalid: `requests[${i}]: expected {"request": {…}}` }
    const metadata = flatStrings(r.metadata)
    return { request: r.request, metadata, key: metadata?.key }
  })

/** OpenAI's batch input file: `{"custom_id", "method": "POST", "url", "body"}` per line. */
export const openaiLines = (text: string, endpoint: string): Array<Item> => {
  const seen = new Set<string>()
  return jsonLines(text, (v, line) => {
    const key = typeof v.custom_id === "string" ? v.custom_id.slice(0, 512) : undefined
    if (key === undefined) return { line, invalid: `line ${line}: custom_id must be a string` }
    if (seen.has(key)) return { line, key, invalid: `line ${line}: custom_id is not unique in the batch` }
    seen.add(key)
    if (v.method !== "POST") return { line, key, invalid: `line ${line}: method must be POST` }
    if (v.url !== endpoint)
      return { line, key, invalid: `line ${line}: url must be the batch's endpoint (${endpoint})` }
    if (!isObj(v.body)) return { line, key, invalid: `line ${line}: body must be a JSON object` }
    return { line, key, url: endpoint, request: v.body }
  })
}

// ---- output ---------------------------------------------------------------------------------

/** Gemini's inlined responses, in input order. */
export const geminiInlined = (items: ReadonlyArray<Item>, results: ReadonlyArray<Result>): Array<Json> => {
  const byIndex = new Map(results.map((r) => [r.i, r]))
  const out: Array<Json> = []
  for (const [i, item] of items.entries()) {
    const r = byIndex.get(i)
    if (r === undefined) continue
    const entry: Json = r.ok ? { response: r.body } : { error: r.body }
    if (item.metadata !== undefined) entry.metadata = item.metadata
    out.push(entry)
  }
  return out
}

/** Gemini's results file: `{"key", "response"}` or `{"key", "error"}` per line, in input order. */
export const geminiResultsFile = (items: ReadonlyArray<Item>, results: ReadonlyArray<Result>): string => {
  const byIndex = new Map(results.map((r) => [r.i, r]))
  let out = ""
  for (const [i, item] of items.entries()) {
    const r = byIndex.get(i)
    if (r === undefined) continue
    const entry: Json = r.ok ? { response: r.body } : { error: r.body }
    out += `${JSON.stringify(item.key === undefined ? entry : { key: item.key, ...entry })}\n`
  }
  return out
}

/** OpenAI's output and error files. */
export const openaiFiles = (
  batchId: string,
  items: ReadonlyArray<Item>,
  results: ReadonlyArray<Result>,
): { output: string; errors: string } => {
  const byIndex = new Map(results.map((r) => [r.i, r]))
  let output = ""
  let errors = ""
  for (const [i, item] of items.entries()) {
    const r = byIndex.get(i)
    if (r === undefined) continue
    const line: Json = { id: `batch_req_${newId()}`, custom_id: item.key ?? null }
    const requestId = `${batchId}-${i}`
    if (r.ok) {
      output += `${JSON.stringify({ ...line, response: { status_code: r.status, request_id: requestId, body: r.body }, error: null })}\n`
    } else if (item.invalid !== undefined) {
      errors += `${JSON.stringify({ ...line, response: null, error: { code: "invalid_request", message: item.invalid, line: item.line ?? null } })}\n`
    } else {
      errors += `${JSON.stringify({ ...line, response: { status_code: r.status, request_id: requestId, body: r.body }, error: null })}\n`
    }
  }
  return { output, errors }
}
