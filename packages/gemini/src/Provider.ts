/**
 * The `gemini` provider type: canonical requests to generativelanguage (or anything speaking its
 * API at `baseUrl`). Key in `x-goog-api-key`; streams with `alt=sse`; embeddings through
 * batchEmbedContents; errors decoded from Google's body into UpstreamError with the status.
 * Options (`providers.<name>.options`): `apiVersion` (default v1beta); `voices` (OpenAI voice
 * name → Gemini voice, over the built-in map, for speech requests); `videoPollInterval` (how often
 * a Veo operation is polled, default 10s) and `videoMaxBytes` (the largest video downloaded,
 * default 512 MiB).
 */
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Effect, Either, Redacted, Schema, Stream } from "effect"
import {
  type CallContext,
  Chunked,
  Collect,
  Config,
  ImageFanout,
  type ProviderService as Provider,
  type ProviderType,
  Upstream,
} from "@sluice/core"
import { type ChatRequest, Errors, type GatewayError, type ModelInfo, type StreamEvent } from "@sluice/schema"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Request from "./Request.ts"
import * as Response from "./Response.ts"
import * as Sse from "./Sse.ts"
import * as StreamCodec from "./StreamCodec.ts"
import * as Veo from "./Veo.ts"
import * as Wire from "./Wire.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export const defaultBaseUrl = "https://generativelanguage.googleapis.com"

/** `…/v1beta` stays; a bare host gets `/{apiVersion}`. */
export const apiRoot = (baseUrl: string, apiVersion: string): string => {
  const trimmed = baseUrl.replace(/\/+$/, "")
  return /\/v1(beta\d*|alpha)?$/.test(trimmed) ? trimmed : `${trimmed}/${apiVersion}`
}

/** `gemini-2.5-flash` → `models/gemini-2.5-flash`; `tunedModels/x` and `models/x` stay. */
export const resourceName = (model: string): string =>
  model.startsWith("models/") || model.startsWith("tunedModels/") ? model : `models/${model}`

/**
 * The resource name as a URL path: the collection, then the id as ONE encoded segment — an id
 * is never spliced into a URL raw, so nothing in it (`/`, `..`, `?`, `#`, `%`) can reach
 * another path than `{collection}/{id}:{method}`.
 */
export const resourcePath = (model: string): string => {
  const name = resourceName(model)
  const slash = name.indexOf("/")
  return `${name.slice(0, slash)}/${encodeURIComponent(name.slice(slash + 1))}`
}

const unreachable = (provider: string) => (e: HttpClientError.HttpClientError) =>
  new Errors.UpstreamError({
    message: `could not reach the Gemini API: ${e.reason === "Transport" ? "connection failed" : e.reason}`,
    status: 502,
    provider,
  })

const badAnswer = (provider: string, what: string) =>
  new Errors.UpstreamError({ message: `the Gemini API sent an unreadable ${what}`, status: 502, provider })

export const make = (name: string, config: Config.ProviderConfig, client: HttpClient.HttpClient): Provider => {
  const options = config.options ?? {}
  const apiVersion = typeof options.apiVersion === "string" ? options.apiVersion : "v1beta"
  const root = apiRoot(config.baseUrl ?? defaultBaseUrl, apiVersion)

  const headers = (ctx: CallContext): Record<string, string> => {
    const out: Record<string, string> = { ...config.headers, ...ctx.forwardHeaders }
    const key = ctx.apiKey ?? config.apiKey
    if (key !== undefined) out["x-goog-api-key"] = Redacted.value(key)
    return out
  }

  const upstream = Upstream.endpoint(client, {
    provider: name,
    baseUrl: root,
    failure: (status, headers, text) => {
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {}
      return ErrorCodec.fromGemini(status, body, headers, name)
    },
    unreachable: unreachable(name),
    malformed: (what) => badAnswer(name, what),
  })

  /** Send a request (its URL relative to the API root); an error status becomes an UpstreamError decoded from Google's body. */
  const send = (
    request: HttpClientRequest.HttpClientRequest,
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, GatewayError> => upstream.execute(request)

  const post = (path: string, body: unknown, ctx: CallContext, query?: Record<string, string>) =>
    HttpClientRequest.post(`/${path}`).pipe(
      HttpClientRequest.setHeaders(headers(ctx)),
      query === undefined ? (r) => r : HttpClientRequest.setUrlParams(query),
      HttpClientRequest.bodyUnsafeJson(body),
    )

  const jsonOf = <A, I>(schema: Schema.Schema<A, I>, response: HttpClientResponse.HttpClientResponse, what: string) =>
    upstream.json(response, what).pipe(
      Effect.flatMap((raw) =>
        Schema.decodeUnknown(schema)(raw).pipe(
          Effect.mapError(() => badAnswer(name, what)),
          Effect.map((decoded) => ({ decoded, raw })),
        ),
      ),
    )

  // OpenAI voice names → Gemini voices, over the built-in map (`options.voices`).
  const voices: Record<string, string> = {}
  if (isObj(options.voices))
    for (const [k, v] of Object.entries(options.voices)) if (typeof v === "string") voices[k] = v
  const encode = (chat: ChatRequest) =>
    Either.match(Request.encode(chat, voices), {
      onLeft: (e) => Effect.fail(e as GatewayError),
      onRight: (body) => Effect.succeed(body),
    })

  // ---- Veo: predictLongRunning, polled to the end, the video downloaded with the key --------

  const msOption = (v: unknown, fallback: number) =>
    typeof v === "number" && v > 0 ? v : typeof v === "string" ? (Config.parseDuration(v) ?? fallback) : fallback
  const pollMs = msOption(options.videoPollInterval, 10_000)
  const maxVideoBytes =
    typeof options.videoMaxBytes === "number" && options.videoMaxBytes > 0 ? options.videoMaxBytes : 512 * 1024 * 1024

  const readJson = (response: HttpClientResponse.HttpClientResponse, what: string) =>
    Effect.mapError(response.json, () => badAnswer(name, what))

  const poll = (operation: string, ctx: CallContext) =>
    Effect.gen(function* () {
      for (;;) {
        yield* Effect.sleep(pollMs)
        const response = yield* send(
          HttpClientRequest.get(`/${Veo.operationPath(operation)}`).pipe(HttpClientRequest.setHeaders(headers(ctx))),
        )
        const outcome = Veo.outcome(yield* readJson(response, "video operation"))
        if (outcome === undefined) return yield* Effect.fail(badAnswer(name, "video operation"))
        if (outcome._tag !== "Pending") return outcome
      }
    })

  /** A generated file's bytes: the key goes to Google's endpoint only, never to where it redirects. */
  const download = (id: string, ctx: CallContext) =>
    Effect.gen(function* () {
      const url = `${root}/files/${encodeURIComponent(id)}:download?alt=media`
      let response = yield* client
        .execute(HttpClientRequest.get(url).pipe(HttpClientRequest.setHeaders(headers(ctx))))
        .pipe(Effect.mapError(unreachable(name)))
      for (let hops = 0; response.status >= 300 && response.status < 400 && hops < 5; hops++) {
        const location = response.headers.location
        if (location === undefined || !/^https?:\/\//i.test(new URL(location, url).href))
          return yield* Effect.fail(badAnswer(name, "video redirect"))
        response = yield* client
          .execute(HttpClientRequest.get(new URL(location, url).href))
          .pipe(Effect.mapError(unreachable(name)))
      }
      if (response.status >= 400) {
        const text = yield* Effect.orElseSucceed(response.text, () => "")
        let body: unknown = text
        try {
          body = JSON.parse(text)
        } catch {}
        return yield* Effect.fail(ErrorCodec.fromGemini(response.status, body, response.headers, name))
      }
      if (Number(response.headers["content-length"] ?? 0) > maxVideoBytes)
        return yield* Effect.fail(badAnswer(name, "video (larger than videoMaxBytes)"))
      const bytes = new Uint8Array(yield* Effect.mapError(response.arrayBuffer, () => badAnswer(name, "video")))
      if (bytes.length > maxVideoBytes) return yield* Effect.fail(badAnswer(name, "video (larger than videoMaxBytes)"))
      const type = (response.headers["content-type"] ?? "video/mp4").split(";")[0]!.trim()
      return { data: Buffer.from(bytes).toString("base64"), mimeType: type.startsWith("video/") ? type : "video/mp4" }
    })

  const video = (request: ChatRequest, ctx: CallContext): Stream.Stream<StreamEvent, GatewayError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const body = Veo.body(request)
        const created = yield* send(post(`${resourcePath(request.model)}:predictLongRunning`, body, ctx))
        const op = yield* readJson(created, "video operation")
        const operation = isObj(op) && typeof op.name === "string" ? op.name : ""
        if (!Veo.operationName.test(operation)) return yield* Effect.fail(badAnswer(name, "video operation name"))
        const start: StreamEvent = {
          _tag: "start",
          id: operation.slice(operation.lastIndexOf("/") + 1),
          model: request.model,
        }
        const rest = Effect.gen(function* () {
          const outcome = yield* poll(operation, ctx)
          if (outcome._tag === "Failed")
            return yield* Effect.fail(ErrorCodec.fromGemini(outcome.code, { error: outcome }, {}, name))
          if (outcome._tag === "Filtered") return yield* Effect.fail(Veo.filtered(outcome.reasons))
          if (outcome._tag !== "Done") return yield* Effect.fail(badAnswer(name, "video operation"))
          const events: Array<StreamEvent> = []
          for (const s of outcome.samples) {
            const v = s._tag === "Bytes" ? s : yield* download(s.id, ctx)
            events.push({ _tag: "image", mediaType: v.mimeType, data: v.data })
          }
          const seconds = Veo.secondsOf(body, outcome.samples.length)
          events.push({ _tag: "finish", finishReason: "stop", usage: { inputTokens: 0, outputTokens: seconds } })
          return events
        })
        return Stream.concat(Stream.make(start), Stream.flatMap(Stream.fromEffect(rest), Stream.fromIterable))
      }),
    )

  // Gemini image models draw one image per call: `n` images are `n` calls.
  const chat: Provider["chat"] = (request, ctx) =>
    Veo.wantsVideo(request)
      ? Collect.collect(video(request, ctx))
      : ImageFanout.fanOut(request, (r) => chatOnce(r, ctx))

  const chatOnce: Provider["chat"] = (request, ctx) =>
    Effect.gen(function* () {
      const body = yield* encode(request)
      const response = yield* send(post(`${resourcePath(request.model)}:generateContent`, body, ctx))
      const { decoded, raw } = yield* jsonOf(Wire.GenerateContentResponse, response, "answer")
      return yield* Response.fromGemini(decoded, isObj(raw) ? raw : {}, request.model)
    })

  const decodeChunk = Schema.decodeUnknownEither(Wire.GenerateContentResponse)
  const broken = new Errors.UpstreamError({ message: "the Gemini stream broke off", status: 502, provider: name })

  const frameError = (json: unknown): GatewayError => {
    const status = isObj(json) && isObj(json.error) ? Number(json.error.code) : 502
    return ErrorCodec.fromGemini(Number.isFinite(status) ? status : 502, json, {}, name)
  }

  /** Upstream SSE bytes → canonical events, in plain JS per incoming chunk. */
  const events = (model: string) => (): Chunked.Transducer<Uint8Array, StreamEvent, GatewayError> => {
    const parser = new Sse.FrameParser()
    const decoder = StreamCodec.decoder(model)
    const frames: Array<Sse.Frame> = []
    const drain = (out: Array<StreamEvent>): GatewayError | undefined => {
      for (const frame of frames) {
        if (frame._tag === "error" || (isObj(frame.json) && isObj(frame.json.error))) {
          frames.length = 0
          return frameError(frame.json)
        }
        const c = decodeChunk(frame.json)
        if (Either.isLeft(c)) {
          frames.length = 0
          return badAnswer(name, "stream chunk")
        }
        for (const e of decoder.step(c.right)) out.push(e)
      }
      frames.length = 0
      return undefined
    }
    return {
      push: (input, out) => {
        for (const b of input) parser.push(b, frames)
        return drain(out)
      },
      end: (out) => {
        parser.end(frames)
        const error = drain(out)
        if (error !== undefined) return error
        const last = decoder.end()
        if (Either.isLeft(last)) return last.left
        out.push(last.right)
        return undefined
      },
    }
  }

  const chatStream: Provider["chatStream"] = (request, ctx) =>
    Veo.wantsVideo(request)
      ? video(request, ctx)
      : request.output?.modalities?.includes("audio") === true
        ? // Whether TTS models stream is not documented: speech is asked whole and sent as one event.
          Stream.unwrap(Effect.map(chatOnce(request, ctx), (r) => Stream.fromIterable(Collect.eventsOf(r))))
        : Chunked.unwrap(
            Effect.gen(function* () {
              const body = yield* encode(request)
              const response = yield* send(
                post(`${resourcePath(request.model)}:streamGenerateContent`, body, ctx, { alt: "sse" }),
              )
              return upstream.transduce(response, events(request.model), () => broken)
            }),
          )

  const embed: Provider["embed"] = (request, ctx) =>
    Effect.gen(function* () {
      const model = resourceName(request.model)
      const per = request.extras?.gemini?.requests
      const requests = request.inputs.map((text, i) => {
        const r: Json = { model, content: { parts: [{ text }] } }
        const extra = Array.isArray(per) ? per[i] : undefined
        if (isObj(extra)) Object.assign(r, extra)
        if (request.dimensions !== undefined) r.outputDimensionality = request.dimensions
        return r
      })
      const response = yield* send(post(`${resourcePath(request.model)}:batchEmbedContents`, { requests }, ctx))
      const { decoded } = yield* jsonOf(Wire.BatchEmbedContentsResponse, response, "embedding answer")
      if (decoded.embeddings.length !== request.inputs.length)
        return yield* Effect.fail(
          new Errors.UpstreamError({
            message: `the Gemini API returned ${decoded.embeddings.length} embeddings for ${request.inputs.length} inputs`,
            status: 502,
            provider: name,
          }),
        )
      return {
        model: request.model,
        embeddings: decoded.embeddings.map((e) => e.values),
        // Gemini's embedding answers carry no token counts.
        usage: { inputTokens: 0 },
      }
    })

  const countTokens: Provider["countTokens"] = (request, ctx) =>
    Effect.gen(function* () {
      const body = yield* encode({ ...request, stream: false })
      const model = resourceName(request.model)
      // Only the generateContentRequest form counts the system instruction and tools.
      const simple = Object.keys(body).every((k) => k === "contents")
      const response = yield* send(
        post(
          `${resourcePath(request.model)}:countTokens`,
          simple ? body : { generateContentRequest: { model, ...body } },
          ctx,
        ),
      )
      const { decoded } = yield* jsonOf(Wire.CountTokensResponse, response, "token count")
      return decoded.totalTokens
    })

  const listModels: Provider["listModels"] = (ctx) =>
    Effect.gen(function* () {
      const request = HttpClientRequest.get("/models").pipe(
        HttpClientRequest.setHeaders(headers(ctx)),
        HttpClientRequest.setUrlParam("pageSize", "1000"),
      )
      const response = yield* send(request)
      const { decoded } = yield* jsonOf(Wire.ListModelsResponse, response, "model list")
      return decoded.models.map((m): ModelInfo => {
        const id = m.name.replace(/^models\//, "")
        const methods = m.supportedGenerationMethods ?? []
        const operations: Array<string> = []
        if (methods.includes("generateContent")) operations.push("chat")
        if (methods.includes("countTokens")) operations.push("countTokens")
        if (methods.includes("embedContent") || methods.includes("batchEmbedContents")) operations.push("embed")
        const info: { -readonly [K in keyof ModelInfo]: ModelInfo[K] } = { id: `${name}/${id}`, provider: name }
        if (m.displayName !== undefined) info.displayName = m.displayName
        if (m.description !== undefined) info.description = m.description
        if (m.inputTokenLimit !== undefined) info.inputTokenLimit = m.inputTokenLimit
        if (m.outputTokenLimit !== undefined) info.outputTokenLimit = m.outputTokenLimit
        if (operations.length > 0) info.operations = operations
        return info
      })
    })

  return { name, type: "gemini", abortable: true, chat, chatStream, embed, countTokens, listModels }
}

export const providerType: ProviderType = {
  type: "gemini",
  defaultBaseUrl,
  requiresKey: true,
  credentialHeaders: ["x-goog-api-key"],
  make: (name, config) => Effect.map(HttpClient.HttpClient, (client) => make(name, config, client)),
}
