/**
 * The upstream HTTP transport every provider uses, and the helpers that put a provider's
 * conventions on it.
 *
 * `layer` is a platform `HttpClient` whose send is an undici `Pool` per origin (keep-alive), with
 * no per-call span unless `currentHttpSpans` is on and a tracer other than Effect's default one is
 * installed (the tracing middleware's, with `tracing.httpSpans`): then the call goes through the
 * platform's own client machinery, with its `http.client` span and the credential headers
 * redacted on it. Response bodies are read from
 * undici's body directly — no platform Stream per body, no AbortController left to fire at the end
 * of a stream. Interruption closes the upstream: before the answer through the request's abort
 * signal, after it by destroying the body (a client that disconnects mid-stream closes its
 * upstream at once).
 *
 * `endpoint` is the provider side: `prependUrl` the provider's base URL, `filterStatusOk`, an
 * error status decoded by the provider's own codec, a transport failure made the provider's
 * `UpstreamError` with the transport error kept as its `cause`, Schema decoding of JSON bodies,
 * and bytes → events as one chunk-level transducer (see Chunked) pulled straight off the socket.
 * Any platform `HttpClient` works under it (tests may provide another); the fast paths apply when
 * the response comes from `layer`.
 */
import type { Readable } from "node:stream"
import {
  Headers,
  HttpClient,
  HttpClientError,
  HttpClientRequest,
  HttpClientResponse,
  HttpIncomingMessage,
  UrlParams,
} from "@effect/platform"
import * as Cookies from "@effect/platform/Cookies"
import {
  Chunk,
  Effect,
  Either,
  FiberRef,
  Inspectable,
  Layer,
  Option,
  ParseResult,
  Schema,
  type Scope,
  Stream,
  type Tracer,
} from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Pool } from "undici"
import * as Chunked from "./Chunked.ts"
import type { Transducer } from "./Chunked.ts"

// ---------------------------------------------------------------------------------------------
// The transport

/** Effect's built-in tracer: a fiber running under it has no exporter asking for spans. */
const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

export interface PoolOptions {
  /** Connections per origin (undefined: as many as there are requests in flight). */
  readonly connections?: number | undefined
  /** How long an idle keep-alive connection stays open, ms (default 4,000, undici's). */
  readonly keepAliveTimeout?: number | undefined
}

/**
 * Most origins with a pool at once. Providers use a handful; redirects (signed download URLs)
 * may name others, so the least recently used pool is closed (gracefully) past this.
 */
const maxOrigins = 64

class Pools {
  private readonly byOrigin = new Map<string, Pool>()
  constructor(private readonly options: PoolOptions) {}
  get(origin: string): Pool {
    let pool = this.byOrigin.get(origin)
    if (pool !== undefined) {
      // Keep the map in least-recently-used order (the first entry is the one to evict).
      if (this.byOrigin.size > 1) {
        this.byOrigin.delete(origin)
        this.byOrigin.set(origin, pool)
      }
      return pool
    }
    if (pool === undefined) {
      if (this.byOrigin.size >= maxOrigins) {
        const [oldest, evicted] = this.byOrigin.entries().next().value as [string, Pool]
        this.byOrigin.delete(oldest)
        // Requests already on it finish; the pool then closes its connections.
        void evicted.close().catch(noop)
      }
      pool = new Pool(origin, {
        connections: this.options.connections ?? null,
        keepAliveTimeout: this.options.keepAliveTimeout ?? 4_000,
        // Deadlines are Effect's (the gateway's first-byte and total timeouts), not undici's.
        headersTimeout: 0,
        bodyTimeout: 0,
      })
      this.byOrigin.set(origin, pool)
    }
    return pool
  }
  close(): Promise<unknown> {
    const all = [...this.byOrigin.values()].map((p) => p.destroy())
    this.byOrigin.clear()
    return Promise.all(all)
  }
}

const noop = () => {}

/** `http://host:port/a/b?c` → origin and path, without building a URL object per call. */
const split = (request: HttpClientRequest.HttpClientRequest): { origin: string; path: string } | undefined => {
  const url = request.url
  const scheme = url.indexOf("://")
  if (scheme === -1) return undefined
  const slash = url.indexOf("/", scheme + 3)
  const origin = slash === -1 ? url : url.slice(0, slash)
  let path = slash === -1 ? "/" : url.slice(slash)
  const hash = path.indexOf("#")
  if (hash !== -1) path = path.slice(0, hash)
  if (request.urlParams.length > 0) path += (path.includes("?") ? "&" : "?") + UrlParams.toString(request.urlParams)
  return { origin, path }
}

type UndiciBody = string | Uint8Array | Readable | null

const bodyOf = (body: HttpClientRequest.HttpClientRequest["body"]): Effect.Effect<UndiciBody> => {
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(null)
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return Effect.succeed(body.body as UndiciBody)
    case "FormData":
      return Effect.promise(async () => new Uint8Array(await new globalThis.Response(body.formData).arrayBuffer()))
    case "Stream":
      return Effect.orDie(
        Effect.map(Stream.runCollect(body.stream), (chunks) => Buffer.concat([...chunks]) as Uint8Array),
      )
  }
}

/**
 * A way to end calls from outside the fiber that makes them, without interrupting it: calls made
 * while it is the fiber's `currentAbort` are aborted — before their answer, or mid-body (the
 * body's reader then fails) — when `abort()` is called. `used` says whether any call took it (a
 * provider that does not send through this transport never does). The gateway's per-stream
 * deadline is one: a plain timer per stream instead of a fiber reading ahead of the consumer.
 */
export class Abort {
  used = false
  private readonly controller = new AbortController()
  get signal(): AbortSignal {
    return this.controller.signal
  }
  abort(): void {
    this.controller.abort()
  }
}

export const currentAbort: FiberRef.FiberRef<Abort | undefined> = FiberRef.unsafeMake<Abort | undefined>(undefined)

/**
 * Whether calls get the platform's `http.client` span (method, URL, status, every request and
 * response header redacted into attributes) when a tracer is installed. Off unless the tracing
 * middleware is asked for it (`tracing.httpSpans`): the attempt span already stands for the call,
 * and this one cost ~30 % of a traced JSON request's CPU.
 */
export const currentHttpSpans: FiberRef.FiberRef<boolean> = FiberRef.unsafeMake(false)

/** One call on the origin's pool; `abort` ends it (and its body) from outside when given. */
const dispatch = (
  pools: Pools,
  request: HttpClientRequest.HttpClientRequest,
  origin: string,
  path: string,
  abort: Abort | undefined,
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.flatMap(bodyOf(request.body), (body) =>
    Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
      // Interruption before the answer aborts the call.
      const controller = new AbortController()
      let signal = controller.signal
      if (abort !== undefined) {
        abort.used = true
        signal = AbortSignal.any([signal, abort.signal])
      }
      pools
        .get(origin)
        .request({ origin, path, method: request.method, headers: request.headers, body, signal })
        .then(
          (data) => resume(Effect.succeed(new Response(request, data.statusCode, data.headers, data.body as Readable))),
          (cause) => resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause }))),
        )
      return Effect.sync(() => controller.abort())
    }),
  )

const send = (
  pools: Pools,
  request: HttpClientRequest.HttpClientRequest,
  abort: Abort | undefined,
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const target = split(request)
  return target === undefined
    ? Effect.fail(
        new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: new Error("not an absolute URL") }),
      )
    : dispatch(pools, request, target.origin, target.path, abort)
}

const TypeId: unique symbol = Symbol.for("@sluice/core/Upstream/Client") as never

interface UpstreamClient extends HttpClient.HttpClient {
  /** The same client, with `names` added to the redacted header names on its spans. */
  readonly [TypeId]: (names: ReadonlyArray<string | RegExp>) => HttpClient.HttpClient
}

/**
 * `current => [...current, ...extra]` for a fiber's redacted header names. The fiber's list
 * rarely changes: it is extended once per distinct list, not per call.
 */
export const extendingWith = (
  extra: ReadonlyArray<string | RegExp>,
): ((current: ReadonlyArray<string | RegExp>) => ReadonlyArray<string | RegExp>) => {
  let seen: ReadonlyArray<string | RegExp> | undefined
  let extended: ReadonlyArray<string | RegExp> = extra
  return (current) => {
    if (current !== seen) {
      seen = current
      extended = [...current, ...extra]
    }
    return extended
  }
}

const makeClient = (pools: Pools, extra: ReadonlyArray<string | RegExp>): HttpClient.HttpClient => {
  // The platform's client: a span per call with the request's headers (redacted) as attributes.
  // Its abort signal is not passed on: the platform aborts it when its response wrapper is
  // garbage-collected (a FinalizationRegistry), and a streamed body is read from undici's body
  // long after that wrapper is dropped — a GC mid-stream would cut the stream. Interruption is
  // ours instead, as on the untraced path: before the answer `dispatch` aborts its own controller,
  // after it the body's reader destroys the body.
  const traced = HttpClient.make((request, url, _signal, fiber) =>
    dispatch(pools, request, url.origin, url.pathname + url.search, fiber.getFiberRef(currentAbort)),
  )
  const extend = extendingWith(extra)
  const client = HttpClient.makeWith(
    (effect) =>
      Effect.flatMap(effect, (request) =>
        Effect.withFiberRuntime((fiber) =>
          !fiber.getFiberRef(currentHttpSpans) ||
          fiber.currentTracer === defaultTracer ||
          !fiber.getFiberRef(FiberRef.currentTracerEnabled)
            ? send(pools, request, fiber.getFiberRef(currentAbort))
            : extra.length === 0
              ? traced.execute(request)
              : Effect.locallyWith(traced.execute(request), Headers.currentRedactedNames, extend),
        ),
      ),
    Effect.succeed,
  ) as UpstreamClient & { [TypeId]: UpstreamClient[typeof TypeId] }
  ;(client as { [TypeId]: UpstreamClient[typeof TypeId] })[TypeId] = (names) =>
    makeClient(pools, [...extra, ...names.map((n) => (typeof n === "string" ? n.toLowerCase() : n))])
  return client
}

/** `client` with `names` redacted on its spans, when it is this module's client (else undefined). */
export const withRedactedNames = (
  client: HttpClient.HttpClient,
  names: ReadonlyArray<string | RegExp>,
): HttpClient.HttpClient | undefined => (TypeId in client ? (client as UpstreamClient)[TypeId](names) : undefined)

/** The client, its pools closed with the scope. */
export const make = (options: PoolOptions = {}): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Pools(options)),
      (pools) => Effect.promise(() => pools.close()),
    ),
    (pools) => makeClient(pools, []),
  )

/** The platform `HttpClient` every provider sends through: an undici `Pool` per origin. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(HttpClient.HttpClient, make())

export const layerWith = (options: PoolOptions): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(HttpClient.HttpClient, make(options))

// ---------------------------------------------------------------------------------------------
// Responses read straight from undici's body

const decodeError = (response: Response, cause: unknown) =>
  new HttpClientError.ResponseError({ request: response.request, response, reason: "Decode", cause })

/** The whole body; interruption destroys it (closing the connection). */
const readAll = (body: Readable): Effect.Effect<Buffer, unknown> =>
  Effect.async<Buffer, unknown>((resume) => {
    const parts: Array<Buffer> = []
    const onData = (b: Buffer) => parts.push(b)
    const off = () => {
      body.off("data", onData)
      body.off("end", onEnd)
      body.off("error", onError)
      body.off("close", onClose)
    }
    const onEnd = () => {
      off()
      resume(Effect.succeed(parts.length === 1 ? parts[0]! : Buffer.concat(parts)))
    }
    const onError = (e: unknown) => {
      off()
      resume(Effect.fail(e))
    }
    const onClose = () => {
      if (body.readableEnded) return
      off()
      resume(Effect.fail(new Error("the body was closed before its end")))
    }
    body.on("data", onData)
    body.on("end", onEnd)
    body.on("error", onError)
    body.on("close", onClose)
    return Effect.sync(() => {
      off()
      if (!body.readableEnded) body.destroy()
    })
  })

/** Pulls what the body has buffered as one chunk; waits only when it has nothing. */
class BodyReader {
  done = false
  error: unknown = undefined
  constructor(readonly body: Readable) {}

  private take(): Array<Uint8Array> | undefined {
    const first = this.body.read() as Buffer | null
    if (first === null) return undefined
    const parts: Array<Uint8Array> = [first]
    for (let b = this.body.read() as Buffer | null; b !== null; b = this.body.read() as Buffer | null) parts.push(b)
    return parts
  }

  readonly pull: Effect.Effect<Array<Uint8Array>, Option.Option<unknown>> = Effect.suspend(() => {
    const parts = this.take()
    if (parts !== undefined) return Effect.succeed(parts)
    if (this.done) return Effect.fail(this.error === undefined ? Option.none() : Option.some(this.error))
    if (this.body.readableEnded) {
      this.done = true
      return Effect.fail(Option.none())
    }
    if (this.body.errored !== null || this.body.destroyed) {
      this.done = true
      this.error = this.body.errored ?? new Error("the body was closed before its end")
      return Effect.fail(Option.some(this.error))
    }
    return Effect.async<Array<Uint8Array>, Option.Option<unknown>>((resume) => {
      const body = this.body
      const off = () => {
        body.off("readable", onReadable)
        body.off("end", onEnd)
        body.off("error", onError)
        body.off("close", onClose)
      }
      const onReadable = () => {
        off()
        resume(this.pull)
      }
      const onEnd = () => {
        off()
        this.done = true
        resume(Effect.fail(Option.none()))
      }
      const onError = (e: unknown) => {
        off()
        this.done = true
        this.error = e
        resume(Effect.fail(Option.some(e)))
      }
      const onClose = () => {
        if (body.readableEnded) return onEnd()
        onError(body.errored ?? new Error("the body was closed before its end"))
      }
      body.on("readable", onReadable)
      body.on("end", onEnd)
      body.on("error", onError)
      body.on("close", onClose)
      return Effect.sync(off)
    })
  })

  /** Close the body unless it was read to its end (closing the connection mid-answer). */
  readonly close = Effect.sync(() => {
    if (!this.body.readableEnded) this.body.destroy()
  })
}

export class Response extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  private cachedHeaders: Headers.Headers | undefined
  private cachedText: Effect.Effect<string, HttpClientError.ResponseError> | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    private readonly rawHeaders: Record<string, string | Array<string> | undefined>,
    /** undici's body (a Node Readable). */
    readonly body: Readable,
  ) {
    super()
    body.on("error", noop)
  }

  get headers(): Headers.Headers {
    this.cachedHeaders ??= Headers.fromInput(this.rawHeaders as Record<string, string | ReadonlyArray<string>>)
    return this.cachedHeaders
  }
  get cookies(): Cookies.Cookies {
    const header = this.rawHeaders["set-cookie"]
    if (header === undefined) return Cookies.empty
    return Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }
  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    if (this.cachedText !== undefined) return this.cachedText
    return Effect.matchEffect(readAll(this.body), {
      onFailure: (cause) => Effect.fail(decodeError(this, cause)),
      onSuccess: (buffer) => {
        const text = buffer.toString("utf8")
        this.cachedText = Effect.succeed(text)
        return this.cachedText
      },
    })
  }
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) => {
      try {
        return Effect.succeed(text === "" ? null : (JSON.parse(text) as unknown))
      } catch (cause) {
        return Effect.fail(decodeError(this, cause))
      }
    })
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.map(
      Effect.mapError(readAll(this.body), (cause) => decodeError(this, cause)),
      (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
    )
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (t) => UrlParams.fromInput(new URLSearchParams(t)))
  }
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.arrayBuffer, (b) =>
      Effect.tryPromise({
        try: () => new globalThis.Response(b, { headers: this.headers }).formData() as Promise<FormData>,
        catch: (cause) => decodeError(this, cause),
      }),
    )
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.mapError(bodyChunks(this.body), (cause) => decodeError(this, cause))
  }
  toJSON(): unknown {
    return { _id: "@effect/platform/HttpClientResponse", request: this.request.toJSON(), status: this.status }
  }
}

/** The body's bytes, a pull per buffered batch. */
const bodyChunks = (body: Readable): Stream.Stream<Uint8Array, unknown> =>
  Stream.suspend(() => {
    const reader = new BodyReader(body)
    return Stream.ensuring(Stream.repeatEffectChunkOption(Effect.map(reader.pull, Chunk.unsafeFromArray)), reader.close)
  })

/** The response's undici body, when it came from this module's client (unwrapping the platform's wrapper). */
const undiciBody = (response: HttpClientResponse.HttpClientResponse): Readable | undefined => {
  if (response instanceof Response) return response.body
  const original = (response as { original?: unknown }).original
  return original instanceof Response ? original.body : undefined
}

// ---------------------------------------------------------------------------------------------
// The provider side

/** Sets `cause` as an Error's own, non-enumerable property (as `new Error(m, { cause })` does). */
export const withCause = <E extends object>(error: E, cause: unknown): E => {
  Object.defineProperty(error, "cause", { value: cause, configurable: true, writable: true, enumerable: false })
  return error
}

export interface EndpointOptions {
  /** The provider's configured name. */
  readonly provider: string
  /** Prepended to every request's URL. */
  readonly baseUrl: string
  /** An error status, with the body as far as it could be read, → the canonical error. */
  readonly failure: (status: number, headers: Headers.Headers, body: string) => GatewayError
  /** No answer at all (refused, reset, TLS, bad URL) → the canonical error; the transport error becomes its cause. */
  readonly unreachable: (error: HttpClientError.RequestError) => GatewayError
  /** An answer whose body broke off or is not what `what` should be; the cause is kept. */
  readonly malformed: (what: string) => GatewayError
}

export interface Endpoint {
  readonly client: HttpClient.HttpClient
  /** Send; an error status is the provider's error, a transport failure its UpstreamError. */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest,
    failure?: EndpointOptions["failure"],
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, GatewayError>
  /** The body as JSON (`undefined` for an empty one is `null`), failing with `malformed(what)`. */
  readonly json: (response: HttpClientResponse.HttpClientResponse, what: string) => Effect.Effect<unknown, GatewayError>
  /** The body as JSON, decoded by `schema`. */
  readonly schema: <A, I>(
    schema: Schema.Schema<A, I>,
    what: string,
  ) => (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, GatewayError>
  /**
   * The body through one transducer (bytes → whatever the provider makes of them), pulled per
   * buffered batch of bytes straight off the connection; the body is closed when the stream ends
   * early (a disconnect closes the upstream).
   */
  readonly transduce: <B>(
    response: HttpClientResponse.HttpClientResponse,
    make: () => Transducer<Uint8Array, B, GatewayError>,
    broken: (cause: unknown) => GatewayError,
  ) => Stream.Stream<B, GatewayError>
}

export const endpoint = (client: HttpClient.HttpClient, options: EndpointOptions): Endpoint => {
  const prefixed = client.pipe(
    HttpClient.mapRequest(HttpClientRequest.prependUrl(options.baseUrl)),
    HttpClient.filterStatusOk,
  )
  const onError = (
    e: HttpClientError.HttpClientError,
    failure: EndpointOptions["failure"],
  ): Effect.Effect<never, GatewayError> => {
    if (e._tag === "RequestError") return Effect.fail(withCause(options.unreachable(e), e))
    if (e.reason === "StatusCode")
      return Effect.flatMap(
        Effect.orElseSucceed(e.response.text, () => ""),
        (text) => Effect.fail(failure(e.response.status, e.response.headers, text)),
      )
    return Effect.fail(withCause(options.malformed("answer"), e))
  }
  const execute: Endpoint["execute"] = (request, failure = options.failure) =>
    Effect.catchAll(prefixed.execute(request), (e) => onError(e, failure))

  const json: Endpoint["json"] = (response, what) =>
    Effect.flatMap(
      Effect.mapError(response.text, (e) => withCause(options.malformed(what), e)),
      (text) => {
        try {
          return Effect.succeed(text === "" ? null : (JSON.parse(text) as unknown))
        } catch (cause) {
          return Effect.fail(withCause(options.malformed(what), cause))
        }
      },
    )

  const schema: Endpoint["schema"] = (s, what) => {
    const decode = Schema.decodeUnknownEither(s)
    return (response) =>
      Effect.flatMap(json(response, what), (u) => {
        const r = decode(u)
        return Either.isRight(r)
          ? Effect.succeed(r.right)
          : Effect.fail(withCause(options.malformed(what), ParseResult.TreeFormatter.formatErrorSync(r.left)))
      })
  }

  const transduce = <B>(
    response: HttpClientResponse.HttpClientResponse,
    make: () => Transducer<Uint8Array, B, GatewayError>,
    broken: (cause: unknown) => GatewayError,
  ): Stream.Stream<B, GatewayError> => {
    const body = undiciBody(response)
    if (body === undefined) {
      // Another client: its byte stream, through the same transducer.
      return Chunked.transduce(
        Stream.mapError(response.stream, (e) => withCause(broken(e), e)),
        make,
      )
    }
    // The body is read once: a pulled stream (see Chunked.pulled), its state made now.
    {
      const t = make()
      const reader = new BodyReader(body)
      let ended = false
      let failure: GatewayError | undefined
      const pull: Effect.Effect<Chunk.Chunk<B>, Option.Option<GatewayError>> = Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(Option.some(failure))
        if (ended) return Effect.fail(Option.none())
        return Effect.matchEffect(reader.pull, {
          onSuccess: (parts) => {
            const out: Array<B> = []
            const error = t.push(Chunk.unsafeFromArray(parts), out)
            if (error !== undefined) failure = error
            return out.length > 0 ? Effect.succeed(Chunk.unsafeFromArray(out)) : pull
          },
          onFailure: (e) => {
            if (Option.isSome(e)) {
              failure = withCause(broken(e.value), e.value)
              return Effect.fail(Option.some(failure))
            }
            ended = true
            const out: Array<B> = []
            const error = t.end(out)
            if (error !== undefined) failure = error
            return out.length > 0 ? Effect.succeed(Chunk.unsafeFromArray(out)) : pull
          },
        })
      })
      return Chunked.pulled({ pull, release: () => reader.close })
    }
  }

  return { client: prefixed, execute, json, schema, transduce }
}

/** An UpstreamError for a provider (status 502 unless given). */
export const upstreamError = (provider: string, message: string, status = 502): GatewayError =>
  new Errors.UpstreamError({ message, status, provider })
