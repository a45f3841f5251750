/** `POST /v1/responses`: the Responses API served from the canonical chat path. */
import { Effect, Stream } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Collect, type Ingress } from "@sluice/core"
import * as ResponsesCodec from "./ResponsesCodec.ts"
import * as ResponsesStream from "./ResponsesStream.ts"

export const route = (
  answer: (effect: Effect.Effect<Ingress.Reply, GatewayError>) => Effect.Effect<Ingress.Reply>,
): Ingress.Route => ({
  method: "POST",
  path: "/v1/responses",
  handle: (request, handler) =>
    answer(
      Effect.gen(function* () {
        const body = yield* request.json
        const { chat, request: wire } = yield* ResponsesCodec.decode(body)
        const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat })
        if (response._tag !== "Chat" && response._tag !== "ChatStream") {
          return yield* Effect.fail(new Errors.Internal({ message: `the gateway answered ${response._tag}` }))
        }
        if (chat.stream) {
          const events =
            response._tag === "ChatStream" ? response.events : Stream.fromIterable(Collect.eventsOf(response.chat))
          return {
            _tag: "Stream",
            status: 200,
            contentType: "text/event-stream; charset=utf-8",
            headers: response.headers,
            body: ResponsesStream.encode(events, wire),
          } satisfies Ingress.Reply
        }
        const complete = response._tag === "Chat" ? response.chat : yield* Collect.collect(response.events)
        return {
          _tag: "Json",
          status: 200,
          body: ResponsesCodec.encode(complete, wire),
          headers: response.headers,
        } satisfies Ingress.Reply
      }),
    ),
})
