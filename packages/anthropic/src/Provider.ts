/**
 * The `anthropic` provider type: canonical requests to an Anthropic Messages upstream
 * (`x-api-key`, `anthropic-version: 2023-06-01`, base URL configurable), its answers and its
 * event stream back to canonical. Keys stay Redacted until the header is written.
 *
 * Options (`providers.<name>.options`): `defaultMaxTokens` (max_tokens when the client's format
 * had none; 4096), `anthropicVersion`, `beta` (sent as `anthropic-beta`).
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Effect, Either, Redacted } from "effect"
import * as Schema from "effect/Schema"
import { Chunked, Config, type Provider, type ProviderType, Sse, Upstream } from "@sluice/core"
import { type ChatRequest, Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Models from "./Models.ts"
import * as Request from "./Request.ts"
import * as Response from "./Response.ts"
import { Decoder } from "./StreamDecoder.ts"
import * as Wire from "./Wire.ts"

export const defaultBaseUrl = "https://api.anthropic.com"
export const apiVersion = "2023-06-01"

const decodeMessage = Schema.decodeUnknownEither(Wire.Message)
const decodeCount = Schema.decodeUnknownEither(Wire.CountTokensResponse)
const decodeModels = Schema.decodeUnknownEither(Wire.ModelList)

/** `providers.<name>.options` for this type; unknown keys are refused so typos fail at start. */
export const Options = Schema.Struct({
  defaultMaxTokens: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.positive()), { default: () => 4096 }),
  anthropicVersion: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => apiVersion }),
  beta: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.String))),
})

export const make = (
  name: string,
  config: Config.ProviderConfig,
): Effect.Effect<Provider.Provider, Config.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const options = yield* Config.decodeSection(Options, config.options ?? {}, `providers.${name}.options`)
    const settings = {
      defaultMaxTokens: options.defaultMaxTokens,
      version: options.anthropicVersion,
      beta: typeof options.beta === "string" ? options.beta : options.beta?.join(","),
    }
    // The SDK's convention: the base URL stops before /v1.
    const base = (config.baseUrl ?? defaultBaseUrl).replace(/\/+$/, "").replace(/\/v1$/, "")

    const upstreamError = (message: string, status = 502): GatewayError =>
      new Errors.UpstreamError({ message: `${name}: ${message}`, status, provider: name })

    const upstream = Upstream.endpoint(client, {
      provider: name,
      baseUrl: base,
      failure: (status, headers, text) => {
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {}
        return ErrorCodec.fromUpstream(status, body, name, headers["retry-after"])
      },
      unreachable: (e) => upstreamError(`could not reach the upstream (${e.reason})`),
      malformed: () => upstreamError("the upstream answered with malformed JSON"),
    })

    const build = (
      method: "GET" | "POST",
      path: string,
      ctx: Provider.CallContext,
      body?: unknown,
    ): Either.Either<HttpClientRequest.HttpClientRequest, GatewayError> => {
      const key = ctx.apiKey ?? config.apiKey
      if (key === undefined) {
        return Either.left(new Errors.Unauthenticated({ message: `no API key is configured for provider "${name}"` }))
      }
      const headers: Record<string, string> = {
        ...config.headers,
        ...ctx.forwardHeaders,
        "anthropic-version": settings.version,
        "x-api-key": Redacted.value(key),
      }
      if (settings.beta !== undefined) headers["anthropic-beta"] = settings.beta
      const request = (method === "GET" ? HttpClientRequest.get : HttpClientRequest.post)(path).pipe(
        HttpClientRequest.setHeaders(headers),
      )
      return Either.right(body === undefined ? request : HttpClientRequest.bodyUnsafeJson(request, body))
    }

    /** Send; an error status becomes the canonical error (Anthropic's message, its status kept). */
    const send = (
      request: Either.Either<HttpClientRequest.HttpClientRequest, GatewayError>,
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, GatewayError> =>
      Either.isLeft(request) ? Effect.fail(request.left) : upstream.execute(request.right)

    const readJson = (response: HttpClientResponse.HttpClientResponse) => upstream.json(response, "answer")

    /** Upstream SSE bytes → canonical events, in plain JS per incoming chunk. */
    const events = (): Chunked.Transducer<Uint8Array, StreamEvent, GatewayError> => {
      const sse = new Sse.Parser()
      const decoder = new Decoder(name)
      const messages: Array<Sse.Event> = []
      const drain = (out: Array<StreamEvent>): GatewayError | undefined => {
        for (const m of messages) {
          const r = decoder.push(m)
          if (Either.isLeft(r)) {
            messages.length = 0
            return r.left
          }
          for (const e of r.right) out.push(e)
        }
        messages.length = 0
        return undefined
      }
      return {
        push: (input, out) => {
          for (const b of input) sse.push(b, messages)
          return drain(out)
        },
        end: (out) => {
          sse.end(messages)
          const error = drain(out)
          if (error !== undefined) return error
          const r = decoder.end()
          if (Either.isLeft(r)) return r.left
          for (const e of r.right) out.push(e)
          return undefined
        },
      }
    }

    const checkCandidates = (request: ChatRequest): Either.Either<void, GatewayError> =>
      (request.candidates ?? 1) > 1
        ? Either.left(
            new Errors.InvalidRequest({
              message: `provider "${name}" answers one candidate only (Anthropic has no n/candidateCount)`,
              param: "candidates",
            }),
          )
        : Either.right(undefined)

    const body = (request: ChatRequest, stream: boolean) =>
      Request.encode({ ...request, stream }, { defaultMaxTokens: settings.defaultMaxTokens })

    const chat: Provider.Provider["chat"] = (request, ctx) =>
      Effect.gen(function* () {
        yield* checkCandidates(request)
        const response = yield* send(build("POST", "/v1/messages", ctx, body(request, false)))
        const json = yield* readJson(response)
        const message = decodeMessage(json)
        if (Either.isLeft(message)) return yield* Effect.fail(upstreamError("the upstream answer is not a Message"))
        return Response.decode(message.right)
      })

    const chatStream: Provider.Provider["chatStream"] = (request, ctx) =>
      Chunked.unwrap(
        Effect.gen(function* () {
          yield* checkCandidates(request)
          const response = yield* send(build("POST", "/v1/messages", ctx, body(request, true)))
          return upstream.transduce(response, events, () => upstreamError("the upstream connection failed"))
        }),
      )

    const countTokens: Provider.Provider["countTokens"] = (request, ctx) =>
      Effect.gen(function* () {
        const encoded = Request.encodeCountTokens(request)
        const response = yield* send(build("POST", "/v1/messages/count_tokens", ctx, encoded))
        const count = decodeCount(yield* readJson(response))
        if (Either.isLeft(count))
          return yield* Effect.fail(upstreamError("the upstream count_tokens answer is malformed"))
        return count.right.input_tokens
      })

    const listModels: Provider.Provider["listModels"] = (ctx) =>
      Effect.gen(function* () {
        const response = yield* send(
          Either.map(build("GET", "/v1/models", ctx), HttpClientRequest.setUrlParam("limit", "1000")),
        )
        const list = decodeModels(yield* readJson(response))
        if (Either.isLeft(list)) return yield* Effect.fail(upstreamError("the upstream model list is malformed"))
        return list.right.data.map((m) => Models.fromWire(name, m))
      })

    return {
      name,
      type: "anthropic",
      abortable: true,
      chat,
      chatStream,
      countTokens,
      listModels,
      embed: () =>
        Effect.fail(new Errors.InvalidRequest({ message: `provider "${name}" (Anthropic) has no embeddings API` })),
    }
  })

export const providerType: ProviderType = {
  type: "anthropic",
  defaultBaseUrl,
  requiresKey: true,
  credentialHeaders: ["x-api-key"],
  make,
}
