/**
 * The Responses API served from the canonical chat path: `POST /v1/responses`, and with a
 * response store `GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`.
 *
 * With a store, `previous_response_id` and `item_reference` are resolved here, before the
 * request is translated, whatever the upstream is — an OpenAI upstream included, which Sluice
 * calls with chat completions, so the gateway's store is the one conversation state. A response
 * is kept unless the request says `store: false`: at once when not streamed, and before the
 * stream's `response.completed` event when streamed. It is kept per credential
 * (`ResponseStore.scopeOf`): another key's requests find nothing (404).
 */
import { Effect } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Collect, type HandlerFn, type Ingress } from "@sluice/core"
import * as ResponsesCodec from "./ResponsesCodec.ts"
import * as E from "./ResponsesError.ts"
import * as History from "./ResponsesHistory.ts"
import * as ResponsesStream from "./ResponsesStream.ts"
import { type ResponseStore, type StoreUnavailable, scopeOf, validId } from "./ResponseStore.ts"
import type * as W from "./ResponsesWire.ts"

type Answer = (effect: Effect.Effect<Ingress.Reply, GatewayError>) => Effect.Effect<Ingress.Reply>

const unavailable = (e: StoreUnavailable) =>
  Effect.zipRight(
    Effect.logWarning(`responses: the response store failed (${e.reason})`),
    Effect.fail(
      new Errors.Unavailable({ message: "the response store is unavailable; try again shortly", retryAfterSeconds: 1 }),
    ),
  )

/**
 * Only a caller the middleware lets through may learn anything from the store: its answer to a
 * model listing (auth, when configured) decides, as for `GET /v1/models`.
 */
const authorize = (request: Ingress.IngressRequest, handler: HandlerFn): Effect.Effect<void, GatewayError> =>
  Effect.asVoid(handler({ _tag: "ListModels", ctx: request.ctx }))

/** A store answer the client may see: its own 4xx, or first the caller's auth error if any. */
const guarded = <A>(
  request: Ingress.IngressRequest,
  handler: HandlerFn,
  effect: Effect.Effect<A, E.ResponsesError | StoreUnavailable | GatewayError>,
): Effect.Effect<A, E.ResponsesError | GatewayError> =>
  effect.pipe(
    Effect.catchTag("StoreUnavailable", unavailable),
    Effect.catchTag("ResponsesError", (e) => Effect.zipRight(authorize(request, handler), Effect.fail(e))),
  )

const rendered = (answer: Answer, effect: Effect.Effect<Ingress.Reply, E.ResponsesError | GatewayError>) =>
  answer(Effect.catchTag(effect, "ResponsesError", (e) => Effect.succeed(E.reply(e))))

const create = (answer: Answer, store: ResponseStore | undefined): Ingress.Route => ({
  method: "POST",
  path: "/v1/responses",
  handle: (request, handler) =>
    rendered(
      answer,
      Effect.gen(function* () {
        const body = yield* request.json
        let decoded: ResponsesCodec.Decoded
        let input: ReadonlyArray<W.InputItem> = []
        const scope = scopeOf(request.ctx)
        if (store === undefined) {
          decoded = yield* ResponsesCodec.decode(body)
        } else {
          const w = yield* ResponsesCodec.parse(body)
          const previous = w.previous_response_id
          const history =
            previous == null
              ? []
              : History.itemsOf(yield* guarded(request, handler, History.chain(store, scope, previous)))
          input = yield* guarded(
            request,
            handler,
            History.resolveReferences(store, scope, ResponsesCodec.requestItems(w)),
          )
          decoded = yield* ResponsesCodec.toChat(body, w, history, input)
        }
        const { chat, request: wire } = decoded
        const keep = store !== undefined && wire.store !== false
        /** Keep a finished response; a store failure is logged, the client still gets its answer. */
        const save = (response: W.Response): Effect.Effect<void> =>
          store === undefined || !keep
            ? Effect.void
            : store
                .put(scope, { response, input: History.forStorage(input) })
                .pipe(
                  Effect.catchAll((e) =>
                    Effect.logWarning(`responses: could not keep response ${response.id} (${e.reason})`),
                  ),
                )

        const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat })
        if (response._tag !== "Chat" && response._tag !== "ChatStream") {
          return yield* Effect.fail(new Errors.Internal({ message: `the gateway answered ${response._tag}` }))
        }
        if (chat.stream) {
          const events = Collect.eventsOfAnswer(response)!
          return {
            _tag: "Stream",
            status: 200,
            contentType: "text/event-stream; charset=utf-8",
            headers: response.headers,
            body: ResponsesStream.encode(events, wire, undefined, keep ? { stored: true, onDone: save } : {}),
          } satisfies Ingress.Reply
        }
        const complete = response._tag === "Chat" ? response.chat : yield* Collect.collect(response.events)
        const encoded = ResponsesCodec.encode(complete, wire, keep)
        yield* save(encoded)
        return { _tag: "Json", status: 200, body: encoded, headers: response.headers } satisfies Ingress.Reply
      }),
    ),
})

/** The caller's stored response named by the path, after the caller passed the middleware. */
const stored = (store: ResponseStore, request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.gen(function* () {
    yield* authorize(request, handler)
    const id = request.params.id ?? ""
    if (!validId(id)) return yield* Effect.fail(E.invalidId("response_id"))
    const found = yield* Effect.catchTag(store.get(scopeOf(request.ctx), id), "StoreUnavailable", unavailable)
    if (found === undefined) return yield* Effect.fail(E.responseNotFound(id))
    return found
  })

const retrieve = (answer: Answer, store: ResponseStore): Ingress.Route => ({
  method: "GET",
  path: "/v1/responses/{id}",
  handle: (request, handler) =>
    rendered(
      answer,
      Effect.gen(function* () {
        if (request.query.get("stream") === "true")
          return yield* Effect.fail(
            new Errors.InvalidRequest({
              message: "stream: replaying a stored response is not supported",
              param: "stream",
            }),
          )
        const found = yield* stored(store, request, handler)
        return { _tag: "Json", status: 200, body: found.response } satisfies Ingress.Reply
      }),
    ),
})

const remove = (answer: Answer, store: ResponseStore): Ingress.Route => ({
  method: "DELETE",
  path: "/v1/responses/{id}",
  handle: (request, handler) =>
    rendered(
      answer,
      Effect.gen(function* () {
        const found = yield* stored(store, request, handler)
        const id = found.response.id
        yield* Effect.catchTag(store.delete(scopeOf(request.ctx), id), "StoreUnavailable", unavailable)
        return {
          _tag: "Json",
          status: 200,
          body: { id, object: "response", deleted: true },
        } satisfies Ingress.Reply
      }),
    ),
})

const badQuery = (param: string, message: string) =>
  Effect.fail(new Errors.InvalidRequest({ message: `${param}: ${message}`, param }))

/** `GET /v1/responses/{id}/input_items`: the request's own input items, a page at a time. */
const inputItems = (answer: Answer, store: ResponseStore): Ingress.Route => ({
  method: "GET",
  path: "/v1/responses/{id}/input_items",
  handle: (request, handler) =>
    rendered(
      answer,
      Effect.gen(function* () {
        const q = request.query
        const order = q.get("order") ?? "desc"
        if (order !== "asc" && order !== "desc") return yield* badQuery("order", 'expected "asc" or "desc"')
        const limitText = q.get("limit") ?? "20"
        const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : Number.NaN
        if (!(limit >= 1 && limit <= 100)) return yield* badQuery("limit", "expected an integer from 1 to 100")
        const after = q.get("after")
        if (after !== null && !validId(after))
          return yield* badQuery("after", "expected an item id (letters, numbers, underscores, dashes)")
        const found = yield* stored(store, request, handler)
        const items = order === "asc" ? [...found.input] : [...found.input].reverse()
        const start = after === null ? 0 : items.findIndex((i) => i.id === after) + 1
        if (after !== null && start === 0) return yield* badQuery("after", `no item '${after}' in this response`)
        const page = items.slice(start, start + limit)
        return {
          _tag: "Json",
          status: 200,
          body: {
            object: "list",
            data: page,
            first_id: page[0]?.id ?? null,
            last_id: page[page.length - 1]?.id ?? null,
            has_more: start + limit < items.length,
          },
        } satisfies Ingress.Reply
      }),
    ),
})

/** The Responses routes; without a store only `POST /v1/responses`, for whole conversations. */
export const routes = (answer: Answer, store: ResponseStore | undefined): ReadonlyArray<Ingress.Route> =>
  store === undefined
    ? [create(answer, undefined)]
    : [create(answer, store), inputItems(answer, store), retrieve(answer, store), remove(answer, store)]
