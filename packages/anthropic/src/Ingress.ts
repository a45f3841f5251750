/**
 * The Anthropic ingress: `POST /v1/messages` (JSON or SSE), `POST /v1/messages/count_tokens`,
 * and `GET /v1/models[/{id}]` in Anthropic's shape when the request carries `anthropic-version`
 * (without it the path belongs to OpenAI clients). Credentials come from `x-api-key` or
 * `Authorization: Bearer`. Errors are `{type:"error", error:{type, message}}` with Anthropic's
 * status; a stream that fails after it started ends with an `event: error` frame.
 */
import { Channel, Chunk, Effect, Either, Exit, Option, Scope, Stream } from "effect"
import { Chunked, Echo, type GatewayRequest, type GatewayResponse, type HandlerFn, type Ingress } from "@sluice/core"
import { type ChatRequest, Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Models from "./Models.ts"
import * as Request from "./Request.ts"
import * as Response from "./Response.ts"
import { Encoder } from "./StreamEncoder.ts"

export interface Options {
  /** How often a silent stream gets a `ping` (Anthropic sends them to keep connections alive). */
  readonly pingIntervalMs?: number
}

const errorReply = (error: GatewayError, requestId?: string): Ingress.Reply => {
  const r = ErrorCodec.render(error)
  return {
    _tag: "Json",
    status: r.status,
    body: requestId === undefined ? r.body : { ...r.body, request_id: requestId },
    headers: requestId === undefined ? r.headers : { ...r.headers, "request-id": requestId },
    error,
  }
}

const unexpected = (response: GatewayResponse): GatewayError =>
  new Errors.Internal({ message: `the gateway answered ${response._tag} where a different answer was expected` })

/**
 * Wait for the stream's first events before answering, so a failure before any output (a 429,
 * an unknown model upstream) is an HTTP error the SDK raises as its own error class, not an
 * error event after a 200.
 */
const peek = (
  events: Stream.Stream<StreamEvent, GatewayError>,
): Effect.Effect<Either.Either<Stream.Stream<StreamEvent, GatewayError>, GatewayError>> =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const pull = yield* Scope.extend(Stream.toPull(events), scope)
    const first = yield* Effect.either(
      Effect.repeat(pull, { until: (chunk) => Chunk.isNonEmpty(chunk) }) as Effect.Effect<
        Chunk.Chunk<StreamEvent>,
        Option.Option<GatewayError>
      >,
    ).pipe(Effect.onInterrupt(() => Scope.close(scope, Exit.void)))
    if (Either.isLeft(first)) {
      yield* Scope.close(scope, Exit.void)
      return Option.match(first.left, {
        onNone: () =>
          Either.left(
            new Errors.UpstreamError({ message: "the upstream ended the stream without an answer", status: 502 }),
          ),
        onSome: (e) => Either.left(e),
      })
    }
    const rest = Stream.repeatEffectChunkOption(pull)
    return Either.right(
      Stream.concat(Stream.fromChunk(first.right), rest).pipe(Stream.ensuring(Scope.close(scope, Exit.void))),
    )
  })

/** A keep-alive among a stream's events. */
const Tick: unique symbol = Symbol("Tick")
type Tick = typeof Tick

/** Upstream chunks that may wait for the body (a slow client holds the upstream back beyond them). */
const readAhead = 8

/**
 * `events` with a `Tick` every `intervalMs` while they run, without a merge (which forks a fiber
 * per pull of each side and races the two). One fiber per stream runs `events` into a buffer of
 * up to `readAhead` chunks and a timer raises a flag; a pull takes everything ready as one chunk
 * and waits only when nothing is.
 */
const withTicks = <A, E>(events: Stream.Stream<A, E>, intervalMs: number): Stream.Stream<A | Tick, E> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const ready: Array<Chunk.Chunk<A>> = []
      let tick = false
      let exit: Exit.Exit<void, E> | undefined
      /** The body's pull, waiting for any of the above. */
      let wake: (() => void) | undefined
      /** The upstream fiber, waiting for room in `ready`. */
      let room: (() => void) | undefined
      const notify = () => {
        const w = wake
        wake = undefined
        w?.()
      }
      const offer = (chunk: Chunk.Chunk<A>): Effect.Effect<void> => {
        if (ready.length < readAhead) {
          ready.push(chunk)
          notify()
          return Effect.void
        }
        return Effect.async<void>((resume) => {
          if (ready.length < readAhead) return resume(offer(chunk))
          // Called by the pull that just emptied `ready`.
          room = () => {
            room = undefined
            ready.push(chunk)
            resume(Effect.void)
          }
          return Effect.sync(() => {
            room = undefined
          })
        })
      }
      yield* Effect.forkScoped(
        Effect.onExit(Stream.runForEachChunk(events, offer), (e) =>
          Effect.sync(() => {
            exit = e
            notify()
          }),
        ),
      )
      const timer = setInterval(() => {
        tick = true
        notify()
      }, intervalMs)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
      const wait = Effect.async<void>((resume) => {
        if (ready.length > 0 || tick || exit !== undefined) return resume(Effect.void)
        wake = () => resume(Effect.void)
        return Effect.sync(() => {
          wake = undefined
        })
      })
      const pull: Channel.Channel<Chunk.Chunk<A | Tick>, unknown, E, unknown, void, unknown> = Channel.suspend(() => {
        let out: Chunk.Chunk<A | Tick> | undefined
        if (ready.length > 0) {
          out = ready.length === 1 ? ready[0]! : Chunk.flatten(Chunk.unsafeFromArray(ready.slice()))
          ready.length = 0
          room?.()
        }
        if (tick) {
          tick = false
          out = out === undefined ? Chunk.of<A | Tick>(Tick) : Chunk.append(out, Tick)
        }
        if (out !== undefined) return Channel.zipRight(Channel.write(out), pull)
        if (exit !== undefined) return Exit.isSuccess(exit) ? Channel.void : Channel.failCause(exit.cause)
        return Channel.flatMap(Channel.fromEffect(wait), () => pull)
      })
      return Stream.fromChannel(pull)
    }),
  )

const sseBody = (events: Stream.Stream<StreamEvent, GatewayError>, pingIntervalMs: number): Stream.Stream<string> =>
  // One framing stage: events, pings, a failure and the end by the same encoder.
  Chunked.frame(withTicks(events, pingIntervalMs), () => {
    const encoder = new Encoder()
    const put = (frames: ReadonlyArray<string>, out: Array<string>) => {
      for (const f of frames) out.push(f)
    }
    return {
      push: (input, out) => {
        for (const item of input) put(item === Tick ? encoder.tick() : encoder.push(item), out)
      },
      fail: (e, out) => put(encoder.fail(e), out),
      end: (out) => put(encoder.end(), out),
    }
  })

const chatReply = (
  response: GatewayResponse,
  requestId: string,
  pingIntervalMs: number,
): Effect.Effect<Ingress.Reply, GatewayError> => {
  const headers = { ...response.headers, "request-id": requestId }
  if (response._tag === "Chat") {
    return Effect.succeed({ _tag: "Json", status: 200, body: Response.encode(response.chat), headers })
  }
  if (response._tag !== "ChatStream") return Effect.fail(unexpected(response))
  return Effect.flatMap(peek(response.events), (peeked) =>
    Either.isLeft(peeked)
      ? Effect.fail(peeked.left)
      : Effect.succeed<Ingress.Reply>({
          _tag: "Stream",
          status: 200,
          contentType: "text/event-stream; charset=utf-8",
          headers,
          body: sseBody(peeked.right, pingIntervalMs),
        }),
  )
}

const decodeChat = (
  request: Ingress.IngressRequest,
  requireMaxTokens: boolean,
): Effect.Effect<ChatRequest, GatewayError> =>
  Effect.flatMap(request.json, (body) => {
    const decoded = Request.decode(body, { requireMaxTokens })
    return Either.isLeft(decoded) ? Effect.fail(decoded.left) : Effect.succeed(decoded.right)
  })

const respond = (request: Ingress.IngressRequest, run: Effect.Effect<Ingress.Reply, GatewayError>) =>
  Effect.catchAll(run, (e) => Effect.succeed(errorReply(e, request.ctx.id)))

const call = (handler: HandlerFn, request: GatewayRequest) => handler(request)

const intParam = (query: URLSearchParams, name: string): Either.Either<number | undefined, GatewayError> => {
  const raw = query.get(name)
  if (raw === null) return Either.right(undefined)
  const n = Number(raw)
  return Number.isInteger(n) && n >= 1 && n <= 1000
    ? Either.right(n)
    : Either.left(
        new Errors.InvalidRequest({
          message: `${name}: expected an integer from 1 to 1000, got "${Echo.cap(raw)}"`,
          param: name,
        }),
      )
}

const listModels = (request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.flatMap(call(handler, { _tag: "ListModels", ctx: request.ctx }), (response) =>
    response._tag === "ListModels" ? Effect.succeed(response) : Effect.fail(unexpected(response)),
  )

/** Anthropic's routes share `/v1/models` with OpenAI's; its SDK always sends this header. */
export const isAnthropicClient = (headers: Readonly<Record<string, string>>): boolean =>
  headers["anthropic-version"] !== undefined

export const credential = (headers: Readonly<Record<string, string>>): string | undefined => {
  const key = headers["x-api-key"]
  if (key !== undefined && key !== "") return key
  const auth = headers.authorization
  const m = auth === undefined ? null : /^Bearer\s+(.+)$/i.exec(auth)
  return m?.[1]?.trim()
}

export const make = (options: Options = {}): Ingress.Ingress => {
  const pingIntervalMs = options.pingIntervalMs ?? 10_000
  return {
    name: "anthropic",
    credential,
    error: (e) => errorReply(e),
    routes: [
      {
        method: "POST",
        path: "/v1/messages",
        handle: (request, handler) =>
          respond(
            request,
            decodeChat(request, true).pipe(
              Effect.flatMap((chat) => call(handler, { _tag: "Chat", ctx: request.ctx, chat })),
              Effect.flatMap((response) => chatReply(response, request.ctx.id, pingIntervalMs)),
            ),
          ),
      },
      {
        method: "POST",
        path: "/v1/messages/count_tokens",
        handle: (request, handler) =>
          respond(
            request,
            decodeChat(request, false).pipe(
              Effect.flatMap((chat) => call(handler, { _tag: "CountTokens", ctx: request.ctx, chat })),
              Effect.flatMap((response) =>
                response._tag === "CountTokens"
                  ? Effect.succeed<Ingress.Reply>({
                      _tag: "Json",
                      status: 200,
                      body: { input_tokens: response.inputTokens },
                      headers: { ...response.headers, "request-id": request.ctx.id },
                    })
                  : Effect.fail(unexpected(response)),
              ),
            ),
          ),
      },
      {
        method: "GET",
        path: "/v1/models",
        when: isAnthropicClient,
        handle: (request, handler) =>
          respond(
            request,
            Effect.gen(function* () {
              const limit = yield* intParam(request.query, "limit")
              const response = yield* listModels(request, handler)
              const afterId = request.query.get("after_id")
              const beforeId = request.query.get("before_id")
              const body = Models.page(response.models, {
                ...(limit !== undefined ? { limit } : {}),
                ...(afterId !== null ? { afterId } : {}),
                ...(beforeId !== null ? { beforeId } : {}),
              })
              return { _tag: "Json", status: 200, body, headers: { "request-id": request.ctx.id } } as Ingress.Reply
            }),
          ),
      },
      {
        method: "GET",
        path: "/v1/models/{id+}",
        when: isAnthropicClient,
        handle: (request, handler) =>
          respond(
            request,
            Effect.flatMap(listModels(request, handler), (response) => {
              const id = request.params.id ?? ""
              const found = response.models.find((m) => m.id === id)
              return found === undefined
                ? Effect.fail(new Errors.NotFound({ message: `model: ${Echo.cap(id)}` }))
                : Effect.succeed<Ingress.Reply>({
                    _tag: "Json",
                    status: 200,
                    body: Models.infoOf(found),
                    headers: { "request-id": request.ctx.id },
                  })
            }),
          ),
      },
    ],
  }
}

/** The ingress with default options. */
export const ingress: Ingress.Ingress = make()

/** Exposed for tests: the SSE body a canonical stream becomes. */
export const encodeStream = sseBody
