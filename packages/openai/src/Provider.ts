/**
 * A provider for any server that speaks OpenAI chat completions: canonical request → wire body,
 * HttpClient call (key only in the Authorization header), wire answer or SSE chunks →
 * canonical. Presets (Presets.ts) differ only in base URL, key requirement and Dialect.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Effect, Either, Redacted, Stream } from "effect"
import { type ChatRequest, Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import {
  Chunked,
  Collect,
  type CallContext,
  Config,
  type ProviderService,
  type ProviderType,
  Sse,
  Upstream,
} from "@sluice/core"
import { decode as decodeWith } from "./Decode.ts"
import * as Dialect from "./Dialect.ts"
import * as EmbeddingsCodec from "./EmbeddingsCodec.ts"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as AudioUpstream from "./AudioUpstream.ts"
import * as ImagesUpstream from "./ImagesUpstream.ts"
import * as ModelsCodec from "./ModelsCodec.ts"
import * as RequestCodec from "./RequestCodec.ts"
import * as ResponseCodec from "./ResponseCodec.ts"
import * as StreamCodec from "./StreamCodec.ts"
import * as Wire from "./Wire.ts"

export interface Preset {
  readonly type: string
  readonly defaultBaseUrl?: string | undefined
  readonly requiresKey: boolean
  readonly dialect: Dialect.Dialect
}

/** ~4 characters a token: OpenAI has no token-count endpoint for chat completions. */
const estimateTokens = (body: RequestCodec.WireRequest): number => {
  let chars = 0
  for (const m of body.messages) chars += JSON.stringify(m.content ?? "").length
  if (body.tools !== undefined) chars += JSON.stringify(body.tools).length
  return Math.ceil(chars / 4)
}

const decodeCompletion = decodeWith(Wire.ChatCompletion)
const decodeEmbeddings = decodeWith(Wire.EmbeddingResponse)
const decodeModels = decodeWith(Wire.ModelList)

export const make =
  (preset: Preset): ProviderType["make"] =>
  (name, config) =>
    Effect.gen(function* () {
      const client = yield* HttpClient.HttpClient
      if (config.baseUrl === undefined) {
        return yield* new Config.ConfigError({
          issues: [{ path: `providers.${name}.baseUrl`, message: `required for type "${preset.type}"` }],
        })
      }
      const overrides = yield* Config.decodeSection(
        Dialect.Overrides,
        config.options ?? {},
        `providers.${name}.options`,
      )
      const dialect: Dialect.Dialect = { ...preset.dialect, ...overrides }
      const base = config.baseUrl.replace(/\/+$/, "")

      const keyOf = (ctx: CallContext) => ctx.apiKey ?? config.apiKey
      /** Secret values to scrub from anything the upstream says back. */
      const secrets = (ctx: CallContext): Array<string> => {
        const key = keyOf(ctx)
        return key === undefined ? [] : [Redacted.value(key)]
      }

      const unreachable = (what: string) =>
        new Errors.UpstreamError({ message: `provider "${name}" ${what}`, status: 502, provider: name })

      const upstream = Upstream.endpoint(client, {
        provider: name,
        baseUrl: base,
        failure: (status, headers, text) => ErrorCodec.fromUpstream(status, headers, text, name, []),
        unreachable: () => unreachable("could not be reached"),
        malformed: () => unreachable("answered with a body that is not JSON"),
      })

      /** A request to `path` under the base URL. */
      const request = (method: "GET" | "POST", path: string, ctx: CallContext, body?: unknown, stream = false) => {
        const key = keyOf(ctx)
        const headers: Record<string, string> = {
          ...config.headers,
          ...ctx.forwardHeaders,
          accept: stream ? "text/event-stream" : "application/json",
        }
        if (key !== undefined) headers.authorization = `Bearer ${Redacted.value(key)}`
        const req = (method === "GET" ? HttpClientRequest.get : HttpClientRequest.post)(path).pipe(
          HttpClientRequest.setHeaders(headers),
        )
        return body === undefined ? req : HttpClientRequest.bodyUnsafeJson(req, body)
      }

      /** Send, and turn a non-2xx answer into an UpstreamError carrying its status and retry-after. */
      const send = (
        req: HttpClientRequest.HttpClientRequest,
        ctx: CallContext,
      ): Effect.Effect<HttpClientResponse.HttpClientResponse, GatewayError> =>
        upstream.execute(req, (status, headers, text) =>
          ErrorCodec.fromUpstream(status, headers, text, name, secrets(ctx)),
        )

      const readJson = <A>(
        res: HttpClientResponse.HttpClientResponse,
        decode: (u: unknown) => Either.Either<A, { path: string; message: string }>,
      ): Effect.Effect<A, GatewayError> =>
        Effect.flatMap(upstream.json(res, "answer"), (json) => {
          const r = decode(json)
          return Either.isRight(r)
            ? Effect.succeed(r.right)
            : Effect.fail(
                unreachable(`answered in a shape this gateway cannot read (${r.left.path}: ${r.left.message})`),
              )
        })

      const complete = (res: HttpClientResponse.HttpClientResponse) =>
        Effect.flatMap(readJson(res, decodeCompletion), (w) => ResponseCodec.decode(w, name))

      /** An image request to an images model: `/images/generations`, or `/images/edits` with input images. */
      const images = (chat: ChatRequest, ctx: CallContext) => {
        const call = ImagesUpstream.bodyOf(chat)
        const req =
          call._tag === "Json"
            ? Effect.succeed(request("POST", "/images/generations", ctx, call.body))
            : Effect.map(ImagesUpstream.encodeForm(call.form), ({ bytes, contentType }) =>
                HttpClientRequest.bodyUint8Array(request("POST", "/images/edits", ctx), bytes, contentType),
              )
        return Effect.flatMap(req, (r) => send(r, ctx)).pipe(
          Effect.flatMap((res) => upstream.json(res, "answer")),
          Effect.flatMap((json) => {
            const r = ImagesUpstream.decode(json, chat.model)
            return r === undefined
              ? Effect.fail(unreachable("answered in a shape this gateway cannot read"))
              : Effect.succeed(r)
          }),
        )
      }
      const isImages = (chat: ChatRequest) => ImagesUpstream.isImageRequest(chat, dialect.imageModels)

      /** Text to speech through `/audio/speech`: the bytes whole, or its SSE stream as audio events. */
      const speech = (chat: ChatRequest, ctx: CallContext) => {
        const { body, mediaType } = AudioUpstream.speechBody(chat, false)
        const req = HttpClientRequest.setHeader(request("POST", "/audio/speech", ctx, body), "accept", "*/*")
        return send(req, ctx).pipe(
          Effect.flatMap((res) => Effect.mapError(res.arrayBuffer, () => unreachable("broke off the audio"))),
          Effect.map((buf) => AudioUpstream.speechResponse(new Uint8Array(buf), mediaType, chat.model)),
        )
      }
      const speechStream = (chat: ChatRequest, ctx: CallContext) => {
        const sse = AudioUpstream.wantsEvents(chat)
        const { body, mediaType } = AudioUpstream.speechBody(chat, sse)
        if (!sse) {
          // The bytes as they arrive, each chunk an audio event.
          const req = HttpClientRequest.setHeader(request("POST", "/audio/speech", ctx, body), "accept", "*/*")
          return Stream.unwrap(
            Effect.map(send(req, ctx), (res) =>
              Stream.concat(
                Stream.make({ _tag: "start", id: `speech-${crypto.randomUUID()}`, model: chat.model } as const),
                Stream.concat(
                  Stream.map(
                    Stream.mapError(res.stream, () => unreachable("broke off the audio")),
                    (chunk): StreamEvent => ({
                      _tag: "image",
                      mediaType,
                      data: Buffer.from(chunk).toString("base64"),
                    }),
                  ),
                  Stream.make({
                    _tag: "finish",
                    finishReason: "stop",
                    usage: { inputTokens: 0, outputTokens: 0 },
                  } as const),
                ),
              ),
            ),
          )
        }
        return Stream.unwrap(
          Effect.map(send(request("POST", "/audio/speech", ctx, body, true), ctx), (res) =>
            Stream.concat(
              Stream.make({ _tag: "start", id: `speech-${crypto.randomUUID()}`, model: chat.model } as const),
              Sse.events(Stream.mapError(res.stream, () => unreachable("closed the connection mid-stream"))).pipe(
                Stream.mapConcat((e) => {
                  let data: unknown
                  try {
                    data = JSON.parse(e.data)
                  } catch {
                    return []
                  }
                  return AudioUpstream.speechEvent(data, mediaType)
                }),
              ),
            ),
          ),
        )
      }
      const isSpeech = (chat: ChatRequest) => AudioUpstream.isSpeechRequest(chat, dialect.speechModels)

      /** Speech to text through `/audio/transcriptions` (multipart), the answer kept whole. */
      const transcription = (chat: ChatRequest, ctx: CallContext) =>
        Effect.map(ImagesUpstream.encodeForm(AudioUpstream.transcriptionForm(chat)), ({ bytes, contentType }) =>
          HttpClientRequest.bodyUint8Array(request("POST", "/audio/transcriptions", ctx), bytes, contentType),
        ).pipe(
          Effect.flatMap((r) => send(r, ctx)),
          Effect.flatMap((res) => {
            const type = res.headers["content-type"] ?? "application/json"
            return Effect.mapError(type.includes("json") ? res.json : res.text, () =>
              unreachable("answered with an unreadable transcription"),
            ).pipe(Effect.map((body) => AudioUpstream.transcriptionResponse(body, type, chat.model)))
          }),
        )
      const isTranscription = (chat: ChatRequest) =>
        AudioUpstream.isTranscriptionRequest(chat, dialect.transcriptionModels)

      /** A request for another endpoint than chat completions, whole. */
      const special = (chat: ChatRequest, ctx: CallContext) =>
        isImages(chat)
          ? images(chat, ctx)
          : isSpeech(chat)
            ? speech(chat, ctx)
            : isTranscription(chat)
              ? transcription(chat, ctx)
              : chat.output?.modalities?.includes("video") === true
                ? // OpenAI retired its video API; no OpenAI-format upstream makes videos.
                  Effect.fail(
                    new Errors.InvalidRequest({
                      message: `provider "${name}" (${preset.type}) cannot generate videos; route this model to a Veo model`,
                      param: "model",
                    }),
                  )
                : undefined

      const provider: ProviderService = {
        name,
        type: preset.type,
        abortable: true,
        chat: (chat, ctx) =>
          special(chat, ctx) ??
          Effect.flatMap(
            send(
              request("POST", "/chat/completions", ctx, RequestCodec.encode({ ...chat, stream: false }, dialect)),
              ctx,
            ),
            complete,
          ),
        chatStream: (chat, ctx) => {
          if (isSpeech(chat)) return speechStream(chat, ctx)
          // The images endpoints' own streams are partial images; a whole image is one event.
          const whole = special(chat, ctx)
          if (whole !== undefined)
            return Stream.unwrap(Effect.map(whole, (r) => Stream.fromIterable(Collect.eventsOf(r))))
          return Chunked.unwrap(
            Effect.map(
              send(
                request(
                  "POST",
                  "/chat/completions",
                  ctx,
                  RequestCodec.encode({ ...chat, stream: true }, dialect),
                  true,
                ),
                ctx,
              ),
              (res) => {
                // A server that ignores `stream: true` answers whole: stream that answer.
                if (!(res.headers["content-type"] ?? "").includes("text/event-stream")) {
                  return Stream.unwrap(Effect.map(complete(res), (r) => Stream.fromIterable(Collect.eventsOf(r))))
                }
                return upstream.transduce(res, StreamCodec.sseTransducer(name, secrets(ctx)), () =>
                  unreachable("closed the connection mid-stream"),
                )
              },
            ),
          )
        },
        embed: (embed, ctx) =>
          send(request("POST", "/embeddings", ctx, EmbeddingsCodec.encodeRequest(embed)), ctx).pipe(
            Effect.flatMap((res) => readJson(res, decodeEmbeddings)),
            Effect.flatMap((w) => EmbeddingsCodec.decodeResponse(w, embed.inputs.length, name)),
          ),
        countTokens: (chat) => Effect.succeed(estimateTokens(RequestCodec.encode(chat, dialect))),
        listModels: (ctx) =>
          send(request("GET", "/models", ctx), ctx).pipe(
            Effect.flatMap((res) => readJson(res, decodeModels)),
            Effect.map((w) => ModelsCodec.decode(w, name)),
          ),
      }
      return provider
    })

export const providerType = (preset: Preset): ProviderType => ({
  type: preset.type,
  defaultBaseUrl: preset.defaultBaseUrl,
  requiresKey: preset.requiresKey,
  credentialHeaders: ["authorization"],
  make: make(preset),
})
