/**
 * The OpenAI ingress: what openai-node (and every client that copies it) calls —
 * `POST /v1/chat/completions`, `POST /v1/responses` (and, with a response store,
 * `GET`/`DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`), `POST /v1/embeddings`,
 * `POST /v1/images/generations`, `POST /v1/images/edits`, `POST /v1/audio/speech`,
 * `POST /v1/audio/transcriptions`, `/v1/videos` (create, retrieve, content, delete), `GET /v1/models`, `GET /v1/models/{id}`
 * — with the key from `Authorization: Bearer`.
 */
import { Effect, type Scope } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Collect, type Config, Echo, type HandlerFn, type Ingress as IngressT } from "@sluice/core"
import * as Audio from "./Audio.ts"
import * as EmbeddingsCodec from "./EmbeddingsCodec.ts"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Images from "./Images.ts"
import * as ModelsCodec from "./ModelsCodec.ts"
import * as RequestCodec from "./RequestCodec.ts"
import * as ResponseCodec from "./ResponseCodec.ts"
import * as Responses from "./Responses.ts"
import * as ResponsesConfig from "./ResponsesConfig.ts"
import type { ResponseStore } from "./ResponseStore.ts"
import * as StreamCodec from "./StreamCodec.ts"
import * as Videos from "./Videos.ts"

type Reply = IngressT.Reply

export const error = (e: GatewayError): Reply => {
  const { status, body, headers } = ErrorCodec.encode(e)
  return { _tag: "Json", status, body, headers, error: e }
}

const unexpected = (tag: string) =>
  Effect.fail(new Errors.Internal({ message: `the gateway answered ${tag} where a chat answer was expected` }))

/** Run a route body; any GatewayError becomes an OpenAI error answer. */
const answer = (effect: Effect.Effect<Reply, GatewayError>): Effect.Effect<Reply> =>
  Effect.catchAll(effect, (e) => Effect.succeed(error(e)))

const chatCompletions: IngressT.Route = {
  method: "POST",
  path: "/v1/chat/completions",
  handle: (request, handler) =>
    answer(
      Effect.gen(function* () {
        const body = yield* request.json
        const { chat, includeUsage } = yield* RequestCodec.decode(body)
        const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat })
        if (chat.stream) {
          const events = Collect.eventsOfAnswer(response) ?? (yield* unexpected(response._tag))
          return {
            _tag: "Stream",
            status: 200,
            contentType: "text/event-stream; charset=utf-8",
            headers: response.headers,
            body: StreamCodec.encode(events, { includeUsage }),
          } satisfies Reply
        }
        const complete =
          response._tag === "Chat"
            ? response.chat
            : response._tag === "ChatStream"
              ? yield* Collect.collect(response.events)
              : yield* unexpected(response._tag)
        return {
          _tag: "Json",
          status: 200,
          body: ResponseCodec.encode(complete),
          headers: response.headers,
        } satisfies Reply
      }),
    ),
}

const embeddings: IngressT.Route = {
  method: "POST",
  path: "/v1/embeddings",
  handle: (request, handler) =>
    answer(
      Effect.gen(function* () {
        const body = yield* request.json
        const { embed, encoding } = yield* EmbeddingsCodec.decode(body)
        const response = yield* handler({ _tag: "Embed", ctx: request.ctx, embed })
        if (response._tag !== "Embed") return yield* unexpected(response._tag)
        return {
          _tag: "Json",
          status: 200,
          body: EmbeddingsCodec.encode(response.embed, encoding),
          headers: response.headers,
        } satisfies Reply
      }),
    ),
}

const listModels = (request: IngressT.IngressRequest, handler: HandlerFn) =>
  Effect.flatMap(handler({ _tag: "ListModels", ctx: request.ctx }), (response) =>
    response._tag === "ListModels" ? Effect.succeed(response) : unexpected(response._tag),
  )

const models: IngressT.Route = {
  method: "GET",
  path: "/v1/models",
  handle: (request, handler) =>
    answer(
      Effect.map(listModels(request, handler), (r) => ({
        _tag: "Json",
        status: 200,
        body: ModelsCodec.encode(r.models),
        headers: r.headers,
      })),
    ),
}

const model: IngressT.Route = {
  method: "GET",
  path: "/v1/models/{id+}",
  handle: (request, handler) =>
    answer(
      Effect.flatMap(listModels(request, handler), (r) => {
        const id = request.params.id ?? ""
        const found = r.models.find((m) => m.id === id)
        return found === undefined
          ? Effect.fail(
              new Errors.NotFound({
                message: `The model '${Echo.cap(id)}' does not exist or is not routed by this gateway`,
              }),
            )
          : Effect.succeed<Reply>({
              _tag: "Json",
              status: 200,
              body: ModelsCodec.encodeModel(found),
              headers: r.headers,
            })
      }),
    ),
}

const bearer = /^Bearer\s+(.+)$/i

export interface Options {
  /** Where Responses API responses are kept; without one, each request carries its whole conversation. */
  readonly responses?: ResponseStore | undefined
  /** More routes in OpenAI's URL space (`/v1/files`, `/v1/batches`). */
  readonly routes?: ReadonlyArray<IngressT.Route> | undefined
}

export const make = (options: Options = {}): IngressT.Ingress => ({
  name: "openai",
  credential: (headers) => {
    const m = bearer.exec(headers.authorization ?? "")
    const key = m?.[1]?.trim()
    return key === undefined || key === "" ? undefined : key
  },
  error,
  routes: [
    chatCompletions,
    ...Responses.routes(answer, options.responses),
    ...Images.routes(answer),
    ...Audio.routes(answer),
    ...Videos.routes(answer),
    ...(options.routes ?? []),
    embeddings,
    models,
    model,
  ],
})

/** The ingress without a response store. */
export const ingress: IngressT.Ingress = make()

/**
 * The ingress with the response store the `responses:` section asks for (memory by default):
 * the long-lived `ResponsesConfig.Store` service when the gateway provides one (stored responses
 * then survive reloads), else a store for this config alone.
 */
export const fromConfig = (
  config: Config.GatewayConfig,
  routes?: ReadonlyArray<IngressT.Route>,
): Effect.Effect<IngressT.Ingress, Config.ConfigError, Scope.Scope> =>
  Effect.flatMap(Effect.serviceOption(ResponsesConfig.Store), (service) =>
    service._tag === "Some"
      ? Effect.succeed(make({ responses: service.value, routes }))
      : Effect.map(ResponsesConfig.fromConfig(config), (responses) => make({ responses, routes })),
  )
