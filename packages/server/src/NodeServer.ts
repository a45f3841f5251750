/**
 * The Node adapter: serves an HttpApp on node:http with graceful shutdown. When its scope closes
 * (SIGTERM through NodeRuntime.runMain), it stops accepting connections, lets in-flight requests
 * finish, answers requests that still arrive on kept-alive connections with 503, and after
 * `shutdownTimeout` closes whatever connections remain. Slow clients are bounded: header and
 * request timeouts, and a write-stall timeout for clients that stop reading their response.
 */
import * as Http from "node:http"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { type HttpApp, HttpMiddleware, HttpServer } from "@effect/platform"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import * as App from "./App.ts"

export interface Tls {
  readonly cert: string | Buffer
  readonly key: string | Buffer
}

/**
 * A certificate that can change while the server runs: `update` swaps the TLS context of the
 * listening server (connections already open keep theirs). It throws on a certificate and key
 * that do not load, leaving the current one in place.
 */
export class TlsUpdates {
  private apply: ((tls: Tls) => void) | undefined
  attach(apply: (tls: Tls) => void): void {
    this.apply = apply
  }
  update(tls: Tls): void {
    this.apply?.(tls)
  }
}

export interface NodeServerOptions {
  readonly host?: string | undefined
  readonly port: number
  /** Milliseconds to wait for in-flight requests on shutdown. */
  readonly shutdownTimeout?: number | undefined
  /** Milliseconds a client may take to send the request headers (slowloris guard); default 30 s. */
  readonly headersTimeout?: number | undefined
  /** Milliseconds a client may take to send the whole request; default 300 s. */
  readonly requestTimeout?: number | undefined
  /** Milliseconds an idle kept-alive connection stays open; default 5 s. */
  readonly keepAliveTimeout?: number | undefined
  /**
   * Milliseconds a response may wait on a client that has stopped reading (bytes queued, none
   * accepted) before the connection is closed; default 60 s. Idle streams are not affected.
   */
  readonly writeStallTimeout?: number | undefined
  /** Serve HTTPS (and wss://) with this certificate and key (PEM) instead of plain HTTP. */
  readonly tls?: Tls | undefined
  /** Where later certificates come from (a config reload); new connections use the newest. */
  readonly tlsUpdates?: TlsUpdates | undefined
  /**
   * Called for each HTTP Upgrade request (WebSocket). It owns the socket: it must either complete
   * the handshake or answer and destroy it. Without it, upgrade requests are refused.
   */
  readonly upgrade?: ((req: Http.IncomingMessage, socket: Net.Socket, head: Buffer) => void) | undefined
}

export const make = (app: HttpApp.Default, options: NodeServerOptions) =>
  Effect.gen(function* () {
    const headersTimeout = options.headersTimeout ?? 30_000
    const httpOptions: Http.ServerOptions = {
      keepAliveTimeout: options.keepAliveTimeout ?? 5_000,
      headersTimeout,
      requestTimeout: options.requestTimeout ?? 300_000,
      // Node checks these timeouts only this often (30 s by default), which would let a slow
      // client hold its connection for up to twice the timeout.
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeout / 4))),
    }
    // An https.Server is an http.Server with TLS underneath: the platform serves either alike.
    const server: Http.Server =
      options.tls === undefined
        ? Http.createServer(httpOptions)
        : (Https.createServer({
            ...httpOptions,
            cert: options.tls.cert,
            key: options.tls.key,
          }) as unknown as Http.Server)
    if (options.tls !== undefined)
      options.tlsUpdates?.attach((tls) =>
        (server as unknown as Https.Server).setSecureContext({ cert: tls.cert, key: tls.key }),
      )
    const upgrade = options.upgrade
    // Upgraded sockets (WebSocket sessions) are in-flight work too: they get the shutdown grace
    // period, then are destroyed with the remaining connections.
    const upgraded = new Set<Net.Socket>()
    const onUpgrade = (req: Http.IncomingMessage, socket: Net.Socket, head: Buffer) => {
      if (draining) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
        return
      }
      upgraded.add(socket)
      socket.once("close", () => upgraded.delete(socket))
      upgrade?.(req, socket, head)
    }
    if (upgrade !== undefined) server.on("upgrade", onUpgrade)
    // A client that stops reading would otherwise pin its response — and the upstream call
    // behind it — forever: backpressure stops the stream, so no time limit gets to run. Node's
    // socket timeout cannot measure this: it re-arms itself whenever the kernel took a few more
    // bytes since the last write, so a stalled reader was closed only after twice the timeout.
    // Instead: a response whose writes are held back (it waits for 'drain') for the whole
    // period is closed; checked every 1/20 of the period, so it closes within 5 % of it.
    const stallMs = options.writeStallTimeout ?? 60_000
    const waiting = new Map<Http.ServerResponse, number>()
    const active = new Set<Http.ServerResponse>()
    const sweep = setInterval(
      () => {
        const now = Date.now()
        for (const res of active) {
          if (!res.writableNeedDrain) {
            waiting.delete(res)
            continue
          }
          const since = waiting.get(res)
          if (since === undefined) waiting.set(res, now)
          else if (now - since >= stallMs) {
            active.delete(res)
            waiting.delete(res)
            res.socket?.destroy()
          }
        }
      },
      Math.max(10, Math.min(1_000, Math.floor(stallMs / 20))),
    )
    sweep.unref()
    server.once("close", () => clearInterval(sweep))
    let draining = false
    let inFlight = 0
    // Registered before the app's listener, so it runs first on every request.
    server.on("request", (_req: Http.IncomingMessage, res: Http.ServerResponse) => {
      // Once the app's own listener is gone (shutdown), nobody else will answer this request.
      if (draining && server.listenerCount("request") === 1) {
        res.writeHead(503, { "content-type": "application/json", connection: "close", "retry-after": "1" })
        res.end(
          JSON.stringify({
            error: {
              code: 503,
              message: "the gateway is shutting down",
              status: "UNAVAILABLE",
              type: "overloaded_error",
            },
          }),
        )
        return
      }
      inFlight++
      active.add(res)
      res.on("drain", () => waiting.delete(res))
      res.once("close", () => {
        inFlight--
        active.delete(res)
        waiting.delete(res)
        // A finished keep-alive connection goes idle: close it so shutdown is not held up.
        if (draining) setImmediate(() => server.closeIdleConnections())
      })
    })
    const httpServer = yield* NodeHttpServer.make(() => server, {
      host: options.host ?? "127.0.0.1",
      port: options.port,
    })
    // The platform wraps every request in an `http.server` span (URL parsing, every header
    // redacted into attributes). Sluice never exports it — tracing middleware makes its own
    // request span — so it is pure per-request cost: switch it off for this server.
    const fast = App.nodeRouteOf(app)
    if (fast === undefined) {
      yield* httpServer.serve(app).pipe(Effect.locally(HttpMiddleware.currentTracerDisabledWhen, () => true))
      // The platform also answers upgrades (through the app); with our own handler, only ours may.
      if (upgrade !== undefined)
        for (const listener of server.listeners("upgrade"))
          if (listener !== onUpgrade) server.off("upgrade", listener as never)
    } else {
      // Ingress routes are served on node:http directly (see App.NodeRoute): one fiber per
      // request, no platform request/response in between; everything else through the platform.
      const platform = yield* NodeHttpServer.makeHandler(app).pipe(
        Effect.locally(HttpMiddleware.currentTracerDisabledWhen, () => true),
      )
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const onRequest = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
        const effect = fast(req, res)
        if (effect === undefined) return platform(req, res)
        const fiber = runFork(effect)
        // The client went away before its answer ended: stop the work (and close the upstream).
        res.once("close", () => {
          if (!res.writableEnded) fiber.unsafeInterruptAsFork(fiber.id())
        })
        fiber.addObserver((exit) => {
          if (Exit.isSuccess(exit) || res.writableEnded) return
          if (!Cause.isInterruptedOnly(exit.cause)) {
            if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" })
            res.end(JSON.stringify({ error: { code: 500, message: "internal gateway error", status: "INTERNAL" } }))
          } else res.destroy()
        })
      }
      server.on("request", onRequest)
      yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", onRequest)))
    }
    // Runs first on scope close (finalizers run in reverse): start draining before the close.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        draining = true
        server.closeIdleConnections()
        const timer = setTimeout(() => {
          server.closeAllConnections()
          for (const socket of upgraded) socket.destroy()
        }, options.shutdownTimeout ?? 10_000)
        timer.unref()
        server.once("close", () => clearTimeout(timer))
      }),
    )
    return Object.assign(httpServer, { inFlight: () => inFlight })
  })

/** A Layer that serves `app` for as long as it is alive. */
export const layer = (app: HttpApp.Default, options: NodeServerOptions) =>
  Layer.scoped(HttpServer.HttpServer, make(app, options))
