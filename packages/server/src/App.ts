/**
 * The HTTP app: matches a request to an ingress route, gives the route the current Handler,
 * and writes its Reply (JSON or a framed text stream). One app serves both adapters — the
 * Node server and the web fetch handler.
 */
import type * as Http from "node:http"
import { type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Chunk, Effect, type Option, Redacted, Stream } from "effect"
import { Errors } from "@sluice/schema"
import type { Handler, Ingress, RequestContext } from "@sluice/core"
import { Chunked, Echo, Ingress as IngressM } from "@sluice/core"
import type * as Body from "./Body.ts"
import { readBytes, readJson } from "./Body.ts"

export interface AppOptions {
  readonly ingresses: ReadonlyArray<Ingress.Ingress>
  /** Called once per request: a hot-reloaded gateway swaps what this returns. */
  readonly handler: () => Handler.Handler
  readonly bodyLimit: number
  /** Extra plain routes (admin API, metrics) that bypass the ingress codecs. */
  readonly extraRoutes?: ReadonlyArray<PlainRoute> | undefined
  /** Checked on the headers before the body is read; its failure is the answer (no body read). */
  readonly admit?: Ingress.Admit | undefined
  /** Told of every ingress request answered without reaching the handler (refused, or a body that did not decode). */
  readonly refused?: ((refused: Ingress.Refused) => void) | undefined
}

export type PlainRoute = Ingress.PlainRoute

interface Compiled {
  readonly method: string
  readonly pattern: IngressM.CompiledPattern
  readonly ingress?: Ingress.Ingress
  readonly route?: Ingress.Route
  readonly plain?: PlainRoute
}

const encoder = new TextEncoder()

const encodeChunk = (chunk: Chunk.Chunk<string | Uint8Array>): Chunk.Chunk<Uint8Array> => {
  if (chunk.length === 1) {
    const s = Chunk.unsafeHead(chunk)
    return Chunk.of(typeof s === "string" ? encoder.encode(s) : s)
  }
  let text = ""
  for (const s of chunk) {
    if (typeof s !== "string") return Chunk.map(chunk, (x) => (typeof x === "string" ? encoder.encode(x) : x))
    text += s
  }
  return text === "" ? Chunk.empty() : Chunk.of(encoder.encode(text))
}

const sseHeaders = { "cache-control": "no-cache", "x-accel-buffering": "no" }

export const toResponse = (reply: Ingress.Reply, extra: Readonly<Record<string, string>>) => {
  if (reply._tag === "Json") {
    return HttpServerResponse.text(JSON.stringify(reply.body), {
      status: reply.status,
      contentType: "application/json",
      headers: reply.headers === undefined ? extra : { ...reply.headers, ...extra },
    })
  }
  const body = reply.body.pipe(
    // A codec defect mid-stream must end the response, not hang it.
    Stream.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Stream.empty
        : Stream.fromEffect(Effect.logError("stream body failed", cause)).pipe(Stream.drain),
    ),
    // One write per chunk of frames (the frames an upstream read produced), not one per frame:
    // each write the socket sees separately is its own syscall.
    Stream.mapChunks(encodeChunk),
  )
  const headers = reply.contentType.startsWith("text/event-stream")
    ? { ...sseHeaders, ...reply.headers, ...extra }
    : { ...reply.headers, ...extra }
  return HttpServerResponse.stream(body, { status: reply.status, contentType: reply.contentType, headers })
}

const notFound = (method: string, path: string) =>
  HttpServerResponse.unsafeJson(
    {
      error: {
        code: 404,
        message: `no route for ${Echo.cap(method, 16)} ${Echo.cap(path, 200)}`,
        status: "NOT_FOUND",
        type: "not_found_error",
      },
    },
    { status: 404 },
  )

const requestIdOf = (headers: Readonly<Record<string, string>>) => {
  const given = headers["x-request-id"]
  return given !== undefined && /^[\w.:-]{1,128}$/.test(given) ? given : crypto.randomUUID()
}

/** A request's route: an ingress route or a plain one, with its path parameters; or why none. */
type Match =
  | { readonly _tag: "Route"; readonly entry: Compiled; readonly params: Record<string, string>; readonly path: string }
  | { readonly _tag: "Miss"; readonly status: 404 | 405; readonly path: string }

const compileTable = (options: AppOptions): Array<Compiled> => {
  // `/status` too: the health path of gema, so its Gemini CLI hooks and checks find Sluice.
  const table: Array<Compiled> = ["/healthz", "/status"].map((path) => ({
    method: "GET",
    pattern: IngressM.compile(path),
    plain: { method: "GET", path, handle: () => Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" })) },
  }))
  for (const plain of options.extraRoutes ?? [])
    table.push({ method: plain.method, pattern: IngressM.compile(plain.path), plain })
  for (const ingress of options.ingresses) {
    for (const route of ingress.routes)
      table.push({ method: route.method, pattern: IngressM.compile(route.path), ingress, route })
  }
  return table
}

/** Query parameters of a URL (parsed once per request, on first use). */
class Query {
  private parsed: URLSearchParams | undefined
  constructor(private readonly url: string) {}
  get(): URLSearchParams {
    if (this.parsed === undefined) {
      const q = this.url.indexOf("?")
      this.parsed = new URLSearchParams(q === -1 ? "" : this.url.slice(q + 1))
    }
    return this.parsed
  }
}

const matchIn = (
  table: ReadonlyArray<Compiled>,
  method: string,
  url: string,
  headers: Readonly<Record<string, string>>,
  query: Query,
): Match => {
  const q = url.indexOf("?")
  const path = q === -1 ? url : url.slice(0, q)
  let methodMismatch = false
  for (const entry of table) {
    const p = entry.pattern.match(path)
    if (p === undefined) continue
    if (entry.method !== method) {
      methodMismatch = true
      continue
    }
    if (entry.route?.when !== undefined && !entry.route.when(headers, query.get())) continue
    return { _tag: "Route", entry, params: p, path }
  }
  return { _tag: "Miss", status: methodMismatch ? 405 : 404, path }
}

const missResponse = (method: string, miss: Extract<Match, { _tag: "Miss" }>) =>
  miss.status === 405
    ? HttpServerResponse.unsafeJson(
        {
          error: {
            code: 405,
            message: `method ${Echo.cap(method, 16)} not allowed on ${Echo.cap(miss.path, 200)}`,
            status: "INVALID_ARGUMENT",
            type: "invalid_request_error",
          },
        },
        { status: 405 },
      )
    : notFound(method, miss.path)

/** What an ingress route needs of the HTTP request, whichever server it came through. */
interface Incoming {
  readonly method: string
  readonly path: string
  readonly params: Record<string, string>
  readonly query: Query
  readonly headers: Readonly<Record<string, string>>
  readonly body: Body.Source
}

/** An ingress route's reply to a request, with the request id to send back. */
const serveIngress = (
  options: AppOptions,
  ingress: Ingress.Ingress,
  route: Ingress.Route,
  incoming: Incoming,
): Effect.Effect<{ readonly reply: Ingress.Reply; readonly id: string }> =>
  Effect.suspend(() => {
    const { method, path, params, headers } = incoming
    const query = incoming.query.get()
    const id = requestIdOf(headers)
    const credential = ingress.credential(headers, query)
    const ctx: RequestContext = {
      id,
      ingress: ingress.name,
      startedAt: Date.now(),
      headers,
      credential: credential === undefined ? undefined : Redacted.make(credential),
    }
    const { admit, refused } = options
    let reached = false
    const handler = options.handler()
    const handle = route
      .handle(
        {
          method,
          path,
          params,
          query,
          headers,
          json: readJson(incoming.body, options.bodyLimit),
          bytes: (limit) => readBytes(incoming.body, limit ?? options.bodyLimit),
          ctx,
        },
        refused === undefined
          ? handler
          : (r) => {
              reached = true
              return handler(r)
            },
      )
      .pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.as(
                Effect.logError("request failed with a defect", cause),
                ingress.error(new Errors.Internal({ message: "internal gateway error" })),
              ),
        ),
      )
    // Refused before the body is read: the caller costs no body read and no JSON parse.
    const reply: Effect.Effect<Ingress.Reply> =
      admit === undefined
        ? handle
        : Effect.matchEffect(admit(ctx), {
            onFailure: (e) => Effect.succeed(ingress.error(e)),
            onSuccess: () => handle,
          })
    return Effect.map(reply, (reply) => {
      // Whatever reached the handler is observed by the middleware; the rest is reported here.
      if (!reached && refused !== undefined)
        refused({ ctx, method, path, status: reply.status, error: reply._tag === "Json" ? reply.error : undefined })
      return { reply, id }
    })
  })

// ---------------------------------------------------------------------------------------------
// Node's fast path

const NodeRouteId: unique symbol = Symbol.for("@sluice/server/App/NodeRoute") as never

/**
 * Serves a node:http request directly — no platform request, response or body Stream in
 * between — when it is one of the app's ingress routes: the returned effect answers it whole
 * (streams included) and ends when the response has; interrupting it (the client went away)
 * closes the upstream. `undefined`: not an ingress route; the HttpApp answers it.
 */
export type NodeRoute = (req: Http.IncomingMessage, res: Http.ServerResponse) => Effect.Effect<void> | undefined

/** The app's node:http fast path, when it has one (apps made by `make`, and wrappers that keep it). */
export const nodeRouteOf = (app: HttpApp.Default): NodeRoute | undefined =>
  (app as { [NodeRouteId]?: NodeRoute })[NodeRouteId]

/** `app` answering node:http requests through `route` first (see `NodeRoute`). */
export const withNodeRoute = (app: HttpApp.Default, route: NodeRoute): HttpApp.Default =>
  Object.assign(app, { [NodeRouteId]: route })

/** Waits until `res` can take more (or is gone). */
const drained = (res: Http.ServerResponse) =>
  Effect.async<void>((resume) => {
    const done = () => {
      res.off("drain", done)
      res.off("close", done)
      resume(Effect.void)
    }
    res.on("drain", done)
    res.on("close", done)
    return Effect.sync(() => {
      res.off("drain", done)
      res.off("close", done)
    })
  })

const writeChunk = (res: Http.ServerResponse, chunk: Chunk.Chunk<string | Uint8Array>): Effect.Effect<void> => {
  if (res.destroyed) return Effect.interrupt
  let text = ""
  let full = false
  for (const s of chunk) {
    if (typeof s === "string") text += s
    else {
      if (text !== "") full = !res.write(text) || full
      text = ""
      full = !res.write(s) || full
    }
  }
  // One write per chunk of frames (the frames an upstream read produced), not one per frame.
  if (text !== "") full = !res.write(text) || full
  return full ? drained(res) : Effect.void
}

/** Pull, write, wait for the socket when it is full, until the end (a `None` failure). */
const writePulled = (
  res: Http.ServerResponse,
  pull: Effect.Effect<Chunk.Chunk<string | Uint8Array>, Option.Option<never>>,
): Effect.Effect<void> => {
  const loop: Effect.Effect<void, Option.Option<never>> = Effect.flatMap(pull, (chunk) =>
    Effect.zipRight(writeChunk(res, chunk), loop),
  )
  return Effect.catchAll(loop, () => Effect.void)
}

const headersFor = (reply: Ingress.Reply, id: string): Record<string, string> =>
  reply._tag === "Json"
    ? { ...reply.headers, "x-request-id": id, "content-type": "application/json" }
    : reply.contentType.startsWith("text/event-stream")
      ? { ...sseHeaders, ...reply.headers, "x-request-id": id, "content-type": reply.contentType }
      : { ...reply.headers, "x-request-id": id, "content-type": reply.contentType }

const writeNode = (res: Http.ServerResponse, reply: Ingress.Reply, id: string): Effect.Effect<void> => {
  if (reply._tag === "Json")
    return Effect.sync(() => {
      const text = JSON.stringify(reply.body)
      const headers = headersFor(reply, id)
      headers["content-length"] = String(Buffer.byteLength(text))
      res.writeHead(reply.status, headers)
      res.end(text)
    })
  return Effect.suspend(() => {
    res.writeHead(reply.status, headersFor(reply, id))
    const p = Chunked.pullOf(reply.body)
    // A pulled stream is written straight from its pull: no channel between the stages and the socket.
    const written =
      p === undefined
        ? Stream.runForEachChunk(reply.body, (chunk) => writeChunk(res, chunk))
        : Effect.onExit(writePulled(res, p.pull), (exit) => p.release(exit))
    return written.pipe(
      // A codec defect mid-stream must end the response, not hang it.
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("stream body failed", cause),
      ),
      Effect.ensuring(Effect.sync(() => res.end())),
    )
  })
}

const nodeRoute =
  (options: AppOptions, table: ReadonlyArray<Compiled>): NodeRoute =>
  (req, res) => {
    const url = req.url ?? "/"
    const method = req.method ?? "GET"
    const headers = req.headers as Readonly<Record<string, string>>
    const query = new Query(url)
    const match = matchIn(table, method, url, headers, query)
    if (match._tag === "Miss" || match.entry.ingress === undefined) return undefined
    const { entry, params, path } = match
    return Effect.flatMap(
      serveIngress(options, entry.ingress!, entry.route!, { method, path, params, query, headers, body: req }),
      ({ reply, id }) => writeNode(res, reply, id),
    )
  }

// ---------------------------------------------------------------------------------------------
// The platform app

export const make = (options: AppOptions): HttpApp.Default => {
  const table = compileTable(options)
  // The platform runs apps uninterruptibly; a client that disconnects must interrupt ours.
  const app = Effect.interruptible(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = request.url
      const method = request.method
      const headers = request.headers as Readonly<Record<string, string>>
      const query = new Query(url)
      const match = matchIn(table, method, url, headers, query)
      if (match._tag === "Miss") return missResponse(method, match)
      const { entry, params, path } = match
      if (entry.plain !== undefined) return yield* entry.plain.handle(request, params)
      const { reply, id } = yield* serveIngress(options, entry.ingress!, entry.route!, {
        method,
        path,
        params,
        query,
        headers,
        body: request,
      })
      return toResponse(reply, { "x-request-id": id })
    }),
  )
  return withNodeRoute(app, nodeRoute(options, table))
}
