/**
 * The HTTP app: matches a request to an ingress route, gives the route the current Handler,
 * and writes its Reply (JSON or a framed text stream). One app serves both adapters — the
 * Node server and the web fetch handler.
 */
import { type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Chunk, Effect, Redacted, Stream } from "effect"
import { Errors } from "@sluice/schema"
import type { Handler, Ingress, RequestContext } from "@sluice/core"
import { Echo, Ingress as IngressM } from "@sluice/core"
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

export const make = (options: AppOptions): HttpApp.Default => {
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

  // The platform runs apps uninterruptibly; a client that disconnects must interrupt ours.
  return Effect.interruptible(
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = request.url
      const q = url.indexOf("?")
      const path = q === -1 ? url : url.slice(0, q)
      const method = request.method
      let matched: Compiled | undefined
      let params: Record<string, string> | undefined
      let methodMismatch = false
      let query: URLSearchParams | undefined
      const headers = request.headers as Readonly<Record<string, string>>
      for (const entry of table) {
        const p = entry.pattern.match(path)
        if (p === undefined) continue
        if (entry.method !== method) {
          methodMismatch = true
          continue
        }
        if (entry.route?.when !== undefined) {
          query ??= new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
          if (!entry.route.when(headers, query)) continue
        }
        matched = entry
        params = p
        break
      }
      if (matched === undefined || params === undefined) {
        return methodMismatch
          ? HttpServerResponse.unsafeJson(
              {
                error: {
                  code: 405,
                  message: `method ${Echo.cap(method, 16)} not allowed on ${Echo.cap(path, 200)}`,
                  status: "INVALID_ARGUMENT",
                  type: "invalid_request_error",
                },
              },
              { status: 405 },
            )
          : notFound(method, path)
      }
      if (matched.plain !== undefined) return yield* matched.plain.handle(request, params)
      const ingress = matched.ingress!
      const route = matched.route!
      query ??= new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
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
      // Refused before the body is read: the caller costs no body read and no JSON parse.
      const denied = admit === undefined ? undefined : yield* Effect.flip(admit(ctx)).pipe(Effect.option)
      let reached = false
      const handler = options.handler()
      const reply: Ingress.Reply =
        denied !== undefined && denied._tag === "Some"
          ? ingress.error(denied.value)
          : yield* route
              .handle(
                {
                  method,
                  path,
                  params,
                  query,
                  headers,
                  json: readJson(request, options.bodyLimit),
                  bytes: (limit) => readBytes(request, limit ?? options.bodyLimit),
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
      // Whatever reached the handler is observed by the middleware; the rest is reported here.
      if (!reached && refused !== undefined)
        refused({ ctx, method, path, status: reply.status, error: reply._tag === "Json" ? reply.error : undefined })
      return toResponse(reply, { "x-request-id": id })
    }),
  )
}
