/**
 * The Images routes: `POST /v1/images/generations` (JSON) and `POST /v1/images/edits`
 * (multipart). Each becomes a canonical Chat asking for image output (ImagesCodec), so any
 * route whose model draws serves it: an OpenAI images model as is, a Gemini image model by
 * translation, the mock. `stream: true` is answered with one `…completed` event per image.
 */
import { Effect, Stream } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Collect, type HandlerFn, Ingress, type Ingress as IngressT } from "@sluice/core"
import * as ImagesCodec from "./ImagesCodec.ts"
import * as Multipart from "./Multipart.ts"

type Reply = IngressT.Reply

/** Edits carry up to 16 images: their bodies may exceed the JSON body limit up to this. */
export const editBodyLimit = 64 * 1024 * 1024

const run = (
  request: IngressT.IngressRequest,
  handler: HandlerFn,
  decoded: ImagesCodec.Decoded,
): Effect.Effect<Reply, GatewayError> =>
  Effect.gen(function* () {
    const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat: decoded.chat })
    const complete =
      response._tag === "Chat"
        ? response.chat
        : response._tag === "ChatStream"
          ? yield* Collect.collect(response.events)
          : yield* Effect.fail(
              new Errors.Internal({ message: `the gateway answered ${response._tag} to an image request` }),
            )
    const images = yield* ImagesCodec.imagesOf(complete)
    if (decoded.answer.stream) {
      const frames = ImagesCodec.encodeEvents(complete, images, decoded.answer).map((e) =>
        Ingress.sseFrame(JSON.stringify(e), String(e.type)),
      )
      return {
        _tag: "Stream",
        status: 200,
        contentType: "text/event-stream; charset=utf-8",
        headers: response.headers,
        body: Stream.fromIterable(frames),
      } satisfies Reply
    }
    return {
      _tag: "Json",
      status: 200,
      body: ImagesCodec.encode(complete, images, decoded.answer),
      headers: response.headers,
    } satisfies Reply
  })

export const routes = (answer: (effect: Effect.Effect<Reply, GatewayError>) => Effect.Effect<Reply>) => {
  const generations: IngressT.Route = {
    method: "POST",
    path: "/v1/images/generations",
    handle: (request, handler) =>
      answer(
        Effect.flatMap(Effect.flatMap(request.json, ImagesCodec.decodeGeneration), (d) => run(request, handler, d)),
      ),
  }
  const edits: IngressT.Route = {
    method: "POST",
    path: "/v1/images/edits",
    handle: (request, handler) =>
      answer(
        Effect.gen(function* () {
          const bytes = yield* request.bytes(editBodyLimit)
          const form = yield* Multipart.parse(bytes, request.headers["content-type"])
          return yield* run(request, handler, yield* ImagesCodec.decodeEdit(form))
        }),
      ),
  }
  return [generations, edits]
}
