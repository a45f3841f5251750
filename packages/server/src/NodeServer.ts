/**
 * The Node adapter: serves an HttpApp on node:http with graceful shutdown. When its scope closes
 * (SIGTERM through NodeRuntime.runMain), it stops accepting connections, lets in-flight requests
 * finish, answers requests that still arrive on kept-alive connections with 503, and after
 * `shutdownTimeout` closes whatever connections remain.
 */
import * as Http from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { type HttpApp, HttpServer } from "@effect/platform"
import { Effect, Layer } from "effect"

export interface NodeServerOptions {
  readonly host?: string | undefined
  readonly port: number
  /** Milliseconds to wait for in-flight requests on shutdown. */
  readonly shutdownTimeout?: number | undefined
}

export const make = (app: HttpApp.Default, options: NodeServerOptions) =>
  Effect.gen(function* () {
    const server = Http.createServer({ keepAliveTimeout: 5_000, headersTimeout: 30_000, requestTimeout: 300_000 })
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
      res.once("close", () => {
        inFlight--
        // A finished keep-alive connection goes idle: close it so shutdown is not held up.
        if (draining) setImmediate(() => server.closeIdleConnections())
      })
    })
    const httpServer = yield* NodeHttpServer.make(() => server, {
      host: options.host ?? "127.0.0.1",
      port: options.port,
    })
    yield* httpServer.serve(app)
    // Runs first on scope close (finalizers run in reverse): start draining before the close.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        draining = true
        server.closeIdleConnections()
        const timer = setTimeout(() => server.closeAllConnections(), options.shutdownTimeout ?? 10_000)
        timer.unref()
        server.once("close", () => clearTimeout(timer))
      }),
    )
    return Object.assign(httpServer, { inFlight: () => inFlight })
  })

/** A Layer that serves `app` for as long as it is alive. */
export const layer = (app: HttpApp.Default, options: NodeServerOptions) =>
  Layer.scoped(HttpServer.HttpServer, make(app, options))
