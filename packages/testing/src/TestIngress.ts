/**
 * A minimal ingress that speaks canonical JSON: `POST /test/chat` with a ChatRequest body.
 * It lets core and server be tested end to end before (or without) any wire-format package.
 */
import { Effect, Stream } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Ingress } from "@sluice/core"
import type { ChatRequest } from "@sluice/schema"

const error = (e: GatewayError): Ingress.Reply => ({
  _tag: "Json",
  status: Errors.httpStatus(e),
  body: { error: { tag: e._tag, message: e.message } },
})

export const ingress: Ingress.Ingress = {
  name: "test",
  credential: (headers) => headers.authorization?.replace(/^Bearer\s+/i, ""),
  error,
  routes: [
    {
      method: "POST",
      path: "/test/chat",
      handle: (request, handler) =>
        request.json.pipe(
          Effect.flatMap((body) => handler({ _tag: "Chat", ctx: request.ctx, chat: body as ChatRequest })),
          Effect.map((response): Ingress.Reply => {
            if (response._tag === "Chat")
              return { _tag: "Json", status: 200, body: response.chat, headers: response.headers }
            if (response._tag === "ChatStream") {
              return {
                _tag: "Stream",
                status: 200,
                contentType: "text/event-stream",
                headers: response.headers,
                body: response.events.pipe(
                  Stream.map((e) => Ingress.sseFrame(JSON.stringify(e))),
                  Stream.catchAll((e) =>
                    Stream.make(Ingress.sseFrame(JSON.stringify({ error: e._tag, message: e.message }), "error")),
                  ),
                ),
              }
            }
            return error(new Errors.Internal({ message: `unexpected ${response._tag}` }))
          }),
          Effect.catchAll((e) => Effect.succeed(error(e))),
        ),
    },
  ],
}
