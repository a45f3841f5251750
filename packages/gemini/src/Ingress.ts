/**
 * The Gemini ingress: what @google/genai and Gemini CLI call, under `/v1beta` and `/v1` (and an
 * optional path prefix). generateContent, streamGenerateContent (SSE with `alt=sse`, else one
 * JSON array written element by element), countTokens, embedContent, batchEmbedContents, the
 * model list, and Veo's predictLongRunning with its operations and video downloads
 * (VideoOperations.ts). Errors are Google's `{error:{code,message,status}}`, mid-stream too.
 */
import { Effect, Either, Schema, Stream } from "effect"
import {
  Chunked,
  Config,
  Echo,
  type GatewayResponse,
  type HandlerFn,
  Ingress,
  ModelId,
  Peek,
  VideoJobs,
} from "@sluice/core"
import { type ChatRequest, type EmbedRequest, Errors, type GatewayError, type ModelInfo } from "@sluice/schema"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Normalize from "./Normalize.ts"
import * as Request from "./Request.ts"
import * as Response from "./Response.ts"
import * as StreamCodec from "./StreamCodec.ts"
import * as VideoOperations from "./VideoOperations.ts"
import * as Wire from "./Wire.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export const Options = Schema.Struct({
  /** Serve the routes under this prefix too (`/gemini` → `/gemini/v1beta/models/…`). */
  pathPrefix: Schema.optional(
    Schema.String.pipe(
      Schema.filter((s) => /^\/[A-Za-z0-9._~\-/]*[^/]$/.test(s) || "expected a path like /gemini (no trailing /)"),
    ),
  ),
  /** Where clients reach the gateway (`https://llm.example.com`), for the video URIs it hands out. */
  publicUrl: Schema.optional(
    Schema.String.pipe(
      Schema.filter(
        (s) =>
          /^https?:\/\/[A-Za-z0-9.\-[\]:]+(\/[A-Za-z0-9._~\-/]*[^/])?$/.test(s) ||
          "expected a URL like https://llm.example.com",
      ),
    ),
  ),
})
export type Options = typeof Options.Type

// ---- errors and credentials -------------------------------------------------------------------

export const error = (e: GatewayError): Ingress.Reply => {
  const r = ErrorCodec.toGemini(e)
  return { _tag: "Json", status: r.code, body: r.body, headers: r.headers, error: e }
}

/** `?key=`, then `x-goog-api-key` (Gemini CLI may send it empty), then `Authorization: Bearer`. */
export const credential = (headers: Readonly<Record<string, string>>, query: URLSearchParams): string | undefined => {
  const key = query.get("key")
  if (key !== null && key !== "") return key
  const header = headers["x-goog-api-key"]
  if (header !== undefined && header.trim() !== "") return header.trim()
  const auth = headers.authorization
  const m = auth === undefined ? null : /^Bearer\s+(.+)$/i.exec(auth)
  return m ? m[1]!.trim() : undefined
}

/** `/v1/models` is also OpenAI's and Anthropic's: claim it only when the caller looks like Google's SDK. */
const looksLikeGemini = (headers: Readonly<Record<string, string>>, query: URLSearchParams) =>
  headers["x-goog-api-key"] !== undefined || query.has("key") || headers["x-goog-api-client"] !== undefined

// ---- helpers ----------------------------------------------------------------------------------

const unexpected = (r: GatewayResponse) => new Errors.Internal({ message: `unexpected ${r._tag} answer` })

const json = (body: unknown, headers: Readonly<Record<string, string>>): Ingress.Reply => ({
  _tag: "Json",
  status: 200,
  body,
  headers,
})

const run = (effect: Effect.Effect<Ingress.Reply, GatewayError>): Effect.Effect<Ingress.Reply> =>
  Effect.catchAll(effect, (e) => Effect.succeed(error(e)))

/**
 * The model named in the path (percent-decoded): `gemini-2.5-flash`, `openai/gpt-4o` (a `models/`
 * prefix is dropped), held to the model-id rule before anything else sees it.
 */
const modelParam = (params: Readonly<Record<string, string>>) => ModelId.check(Request.modelId(params.model ?? ""))

const textOf = (content: Wire.Content, path: string): Either.Either<string, Errors.InvalidRequest> => {
  const texts: Array<string> = []
  for (const [j, p] of content.parts.entries()) {
    if (p.text === undefined)
      return Either.left(
        new Errors.InvalidRequest({
          message: "only text parts can be embedded by this gateway",
          param: `${path}.parts[${j}]`,
        }),
      )
    texts.push(p.text)
  }
  return Either.right(texts.join("\n"))
}

// ---- generateContent / streamGenerateContent --------------------------------------------------

/**
 * Providers phrase refusals canonically ("one candidate only"); a Gemini client set
 * generationConfig.candidateCount, so name that field.
 */
const inClientTerms = (e: GatewayError, chat: ChatRequest): GatewayError =>
  e._tag === "InvalidRequest" && e.param === undefined && (chat.candidates ?? 1) > 1 && /candidate/i.test(e.message)
    ? new Errors.InvalidRequest({
        message: `generationConfig.candidateCount ${chat.candidates} is not supported by the model's provider (${e.message})`,
        param: "generationConfig.candidateCount",
      })
    : e

const generate = (request: Ingress.IngressRequest, handler: HandlerFn, stream: boolean) =>
  run(
    Effect.gen(function* () {
      const body = yield* request.json
      const model = yield* modelParam(request.params)
      const chat = yield* Request.decode(body, { model, stream })
      const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat }).pipe(
        Effect.mapError((e) => inClientTerms(e, chat)),
      )
      if (!stream) {
        if (response._tag !== "Chat") return yield* Effect.fail(unexpected(response))
        return json(Response.toGemini(response.chat), response.headers)
      }
      const sse = request.query.get("alt") === "sse"
      const chunks: Stream.Stream<Json, GatewayError> =
        response._tag === "ChatStream"
          ? StreamCodec.toChunks(response.events)
          : response._tag === "Chat"
            ? Stream.make(Response.toGemini(response.chat))
            : Stream.fail(unexpected(response))
      const peeked = yield* Peek.peek(chunks)
      if (peeked._tag === "Failed") return yield* Effect.fail(peeked.error)
      return streamReply(peeked.stream, sse, response.headers)
    }),
  )

/** Gemini's answer to a stream cut by a guardrail: a last chunk with finishReason SAFETY. */
const safetyChunk = { candidates: [{ finishReason: "SAFETY", index: 0 }] }

const streamReply = (
  chunks: Stream.Stream<Json, GatewayError>,
  sse: boolean,
  headers: Readonly<Record<string, string>>,
): Ingress.Reply => {
  if (sse) {
    // One framing stage per stream: chunks, a failure and the end by the same closure.
    const body = Chunked.frame<Json, GatewayError, never, string>(chunks, () => ({
      push: (input, out) => {
        for (const c of input) out.push(Ingress.sseFrame(JSON.stringify(c)))
      },
      fail: (e, out) => {
        out.push(
          e._tag === "GuardrailViolation"
            ? Ingress.sseFrame(JSON.stringify(safetyChunk))
            : // js-genai raises ApiError only for a bare error object read on its own (not `data:`-framed).
              `${JSON.stringify(ErrorCodec.toGemini(e).body)}\n`,
        )
      },
      end: () => {},
    }))
    return { _tag: "Stream", status: 200, contentType: "text/event-stream", body, headers }
  }
  // Without alt=sse Google writes one JSON array, element by element; it stays well-formed when
  // the stream fails, before its first element too.
  const body = Chunked.frame<Json, GatewayError, never, string>(chunks, () => {
    let opened = false
    const element = (json: string) => {
      const s = `${opened ? ",\r\n" : "["}${json}`
      opened = true
      return s
    }
    return {
      push: (input, out) => {
        for (const c of input) out.push(element(JSON.stringify(c)))
      },
      fail: (e, out) => {
        out.push(
          `${element(JSON.stringify(e._tag === "GuardrailViolation" ? safetyChunk : ErrorCodec.toGemini(e).body))}]`,
        )
      },
      end: (out) => {
        out.push(opened ? "]" : "[]")
      },
    }
  })
  return { _tag: "Stream", status: 200, contentType: "application/json; charset=UTF-8", body, headers }
}

// ---- countTokens ------------------------------------------------------------------------------

const countTokens = (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const model = yield* modelParam(request.params)
      const body = yield* request.json
      if (!isObj(body))
        return yield* Effect.fail(
          new Errors.InvalidRequest({ message: "Invalid JSON payload received. Expected an object." }),
        )
      const normalized = Normalize.request(body) as Json
      const parsed = yield* Request.decodeWire(Wire.CountTokensRequest, normalized)
      if (parsed.generateContentRequest !== undefined && parsed.contents !== undefined)
        return yield* Effect.fail(
          new Errors.InvalidRequest({
            message: "contents and generateContentRequest are mutually exclusive",
            param: "generateContentRequest",
          }),
        )
      const chat: ChatRequest =
        parsed.generateContentRequest !== undefined
          ? yield* Request.decode(normalized.generateContentRequest, { model, stream: false })
          : yield* Request.decode({ contents: normalized.contents ?? [] }, { model, stream: false })
      const response = yield* handler({ _tag: "CountTokens", ctx: request.ctx, chat })
      if (response._tag !== "CountTokens") return yield* Effect.fail(unexpected(response))
      return json({ totalTokens: response.inputTokens }, response.headers)
    }),
  )

// ---- embeddings -------------------------------------------------------------------------------

interface EmbedOne {
  readonly text: string
  readonly taskType?: string | undefined
  readonly title?: string | undefined
  readonly outputDimensionality?: number | undefined
}

const embedRequest = (model: string, items: ReadonlyArray<EmbedOne>): EmbedRequest => {
  const dims = items.find((i) => i.outputDimensionality !== undefined)?.outputDimensionality
  const perRequest = items.map((i) => {
    const o: Json = {}
    if (i.taskType !== undefined) o.taskType = i.taskType
    if (i.title !== undefined) o.title = i.title
    return o
  })
  const request: { -readonly [K in keyof EmbedRequest]: EmbedRequest[K] } = { model, inputs: items.map((i) => i.text) }
  if (dims !== undefined) request.dimensions = dims
  if (perRequest.some((o) => Object.keys(o).length > 0)) request.extras = { gemini: { requests: perRequest } }
  return request
}

const embed = (request: Ingress.IngressRequest, handler: HandlerFn, batch: boolean) =>
  run(
    Effect.gen(function* () {
      const model = yield* modelParam(request.params)
      const body = yield* request.json
      const items: Array<EmbedOne> = []
      if (batch) {
        const parsed = yield* Request.decodeWire(Wire.BatchEmbedContentsRequest, Normalize.request(body))
        for (const [i, r] of parsed.requests.entries()) {
          if (r.model !== undefined && Request.modelId(r.model) !== model)
            return yield* Effect.fail(
              new Errors.InvalidRequest({
                message: `Model in requests[${i}] (${Echo.cap(r.model)}) must match the model in the URL (models/${model}).`,
                param: `requests[${i}].model`,
              }),
            )
          const text = yield* textOf(r.content, `requests[${i}].content`)
          items.push({ text, taskType: r.taskType, title: r.title, outputDimensionality: r.outputDimensionality })
        }
      } else {
        const r = yield* Request.decodeWire(Wire.EmbedContentRequest, Normalize.request(body))
        const text = yield* textOf(r.content, "content")
        items.push({ text, taskType: r.taskType, title: r.title, outputDimensionality: r.outputDimensionality })
      }
      const response = yield* handler({ _tag: "Embed", ctx: request.ctx, embed: embedRequest(model, items) })
      if (response._tag !== "Embed") return yield* Effect.fail(unexpected(response))
      const vectors = response.embed.embeddings.map((values) => ({ values: [...values] }))
      return json(batch ? { embeddings: vectors } : { embedding: vectors[0] ?? { values: [] } }, response.headers)
    }),
  )

// ---- models -----------------------------------------------------------------------------------

const allMethods = ["generateContent", "countTokens", "embedContent", "batchEmbedContents"]

const methodsOf = (ops: ReadonlyArray<string> | undefined): Array<string> => {
  if (ops === undefined) return allMethods
  const out: Array<string> = []
  if (ops.includes("chat")) out.push("generateContent")
  if (ops.includes("countTokens") || ops.includes("chat")) out.push("countTokens")
  if (ops.includes("embed")) out.push("embedContent", "batchEmbedContents")
  return out
}

/** A routed model in Google's Model shape. */
export const modelToGemini = (m: ModelInfo): Json => {
  const out: Json = { name: `models/${m.id}`, baseModelId: m.id, displayName: m.displayName ?? m.id }
  if (m.description !== undefined) out.description = m.description
  if (m.inputTokenLimit !== undefined) out.inputTokenLimit = m.inputTokenLimit
  if (m.outputTokenLimit !== undefined) out.outputTokenLimit = m.outputTokenLimit
  out.supportedGenerationMethods = methodsOf(m.operations)
  return out
}

const pageToken = (offset: number) => Buffer.from(`offset:${offset}`).toString("base64url")
const offsetOf = (token: string): number | undefined => {
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"))
  return m ? Number(m[1]) : undefined
}

const listModels = (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const sizeParam = request.query.get("pageSize")
      const size = sizeParam === null ? 50 : Number(sizeParam)
      if (!Number.isInteger(size) || size < 0)
        return yield* Effect.fail(
          new Errors.InvalidRequest({ message: "pageSize must be a non-negative integer", param: "pageSize" }),
        )
      const token = request.query.get("pageToken")
      const offset = token === null || token === "" ? 0 : offsetOf(token)
      if (offset === undefined)
        return yield* Effect.fail(new Errors.InvalidRequest({ message: "invalid pageToken", param: "pageToken" }))
      const response = yield* handler({ _tag: "ListModels", ctx: request.ctx })
      if (response._tag !== "ListModels") return yield* Effect.fail(unexpected(response))
      const per = Math.min(size === 0 ? 50 : size, 1000)
      const page = response.models.slice(offset, offset + per).map(modelToGemini)
      const body: Json = { models: page }
      if (offset + per < response.models.length) body.nextPageToken = pageToken(offset + per)
      return json(body, response.headers)
    }),
  )

const getModel = (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const id = yield* modelParam(request.params)
      const response = yield* handler({ _tag: "ListModels", ctx: request.ctx })
      if (response._tag !== "ListModels") return yield* Effect.fail(unexpected(response))
      const found = response.models.find((m) => m.id === id)
      if (found === undefined)
        return yield* Effect.fail(
          new Errors.NotFound({
            message: `models/${id} is not found for API version ${request.path.includes("/v1beta/") ? "v1beta" : "v1"}, or is not supported for getModel. Call ListModels to see the list of available models and their supported methods.`,
          }),
        )
      return json(modelToGemini(found), response.headers)
    }),
  )

// ---- routes -----------------------------------------------------------------------------------

const routesUnder = (base: string, guardModels: boolean, video: VideoOperations.Options): Array<Ingress.Route> => {
  const post = (action: string, handle: Ingress.Route["handle"]): Ingress.Route => ({
    method: "POST",
    path: `${base}/models/{model+}:${action}`,
    handle,
  })
  const when = guardModels ? looksLikeGemini : undefined
  return [
    // Before `models/{model+}`: an operation's name is under its model.
    ...VideoOperations.routes(base, video),
    post("generateContent", (r, h) => generate(r, h, false)),
    post("streamGenerateContent", (r, h) => generate(r, h, true)),
    post("countTokens", countTokens),
    post("embedContent", (r, h) => embed(r, h, false)),
    post("batchEmbedContents", (r, h) => embed(r, h, true)),
    { method: "GET", path: `${base}/models`, when, handle: listModels },
    { method: "GET", path: `${base}/models/{model+}`, when, handle: getModel },
  ]
}

/** More routes in Google's URL space (the Files API, batches), served under each prefix too. */
export interface Extensions {
  /**
   * The routes under `prefix` (`""`, or the `pathPrefix`): e.g. `${prefix}/upload/v1beta/files`;
   * `origin` is where clients reach the gateway (`publicUrl`, else the request's Host), for URLs
   * the routes hand out.
   */
  readonly routes?:
    | ((prefix: string, origin: (headers: Readonly<Record<string, string>>) => string) => ReadonlyArray<Ingress.Route>)
    | undefined
}

export const make = (options: Options = {}, tls = false, extensions: Extensions = {}): Ingress.Ingress => {
  const prefixes = options.pathPrefix === undefined ? [""] : [options.pathPrefix, ""]
  const video: VideoOperations.Options = { store: VideoJobs.shared, publicUrl: options.publicUrl, tls }
  const routes = prefixes.flatMap((p) => [
    ...routesUnder(`${p}/v1beta`, false, video),
    // Under a prefix nothing else shares `/v1/models`; at the root OpenAI and Anthropic do.
    ...routesUnder(`${p}/v1`, p === "", video),
    // After the ingress's own: its specific paths (`files/video…:download`) come first.
    ...(extensions.routes?.(p, (headers) => VideoOperations.originOf(headers, options.publicUrl, tls)) ?? []),
  ])
  return { name: "gemini", routes, credential, error }
}

/** The ingress from the config's `ingress.gemini` section (errors name `ingress.gemini.…`). */
export const fromConfig = (
  config: Config.GatewayConfig,
  extensions: Extensions = {},
): Either.Either<Ingress.Ingress, Config.ConfigError> => {
  const section = isObj(config.ingress) ? config.ingress.gemini : undefined
  return Either.map(Config.decodeSection(Options, section ?? {}, "ingress.gemini"), (o) =>
    make(o, config.server.tls !== undefined, extensions),
  )
}
