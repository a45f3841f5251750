/**
 * The WebSocket endpoints, as an HTTP upgrade handler for the Node server:
 * - Gemini Live: `/ws/google.ai.generativelanguage.{v1beta|v1alpha}.GenerativeService.BidiGenerateContent`
 *   (js-genai's `//ws/…` form too), key in `?key=` or `x-goog-api-key`;
 * - OpenAI Realtime: `/v1/realtime?model=…`, key in `Authorization: Bearer` or the browser
 *   subprotocol `openai-insecure-api-key.<key>`.
 * Anything else is refused before the handshake (404).
 */
import type * as Http from "node:http"
import type * as Net from "node:net"
import { Either, Redacted, type Runtime } from "effect"
import { type Config, Gateway, ModelId, type RequestContext, Router } from "@sluice/core"
import { WebSocketServer } from "ws"
import type { ClientCodec, Format } from "./Codec.ts"
import * as LiveCodec from "./LiveCodec.ts"
import * as LiveUpstream from "./LiveUpstream.ts"
import * as Meter from "./Meter.ts"
import * as MockUpstream from "./MockUpstream.ts"
import * as RealtimeCodec from "./RealtimeCodec.ts"
import * as RealtimeUpstream from "./RealtimeUpstream.ts"
import type { RealtimeSection } from "./Section.ts"
import * as Session from "./Session.ts"
import * as Upstream from "./Upstream.ts"

export type UpgradeHandler = (req: Http.IncomingMessage, socket: Net.Socket, head: Buffer) => void

const livePath = /^\/ws\/google\.ai\.generativelanguage\.(v1beta|v1alpha)\.GenerativeService\.BidiGenerateContent$/
const keyProtocol = "openai-insecure-api-key."
/** Headers that carry credentials stay out of the request context. */
const secretHeaders = new Set([
  "authorization",
  "x-goog-api-key",
  "cookie",
  "sec-websocket-protocol",
  "sec-websocket-key",
])

const refuse = (socket: Net.Socket, status: number, text: string) => {
  const body = JSON.stringify({ error: { code: status, message: text } })
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Bad Request"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  )
}

const wsBase = (baseUrl: string) => baseUrl.replace(/^http/, "ws").replace(/\/+$/, "")

let sessions = 0

export interface Options {
  readonly config: Config.GatewayConfig
  readonly section: RealtimeSection
  readonly middleware: ReadonlyArray<Meter.NamedMiddleware>
  readonly runtime: Runtime.Runtime<never>
}

export const make = (options: Options): { readonly upgrade: UpgradeHandler; readonly open: () => number } => {
  const { config, section } = options
  const router = Router.make(config)
  let live = 0
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: section.maxFrame,
    perMessageDeflate: false,
    // A browser Realtime client offers `realtime` and its key as subprotocols: accept `realtime`.
    handleProtocols: (protocols) => (protocols.has("realtime") ? "realtime" : false),
  })

  /** The first deployment of the model's first target; realtime sessions are not retried or failed over. */
  const route =
    (version: string) =>
    (model: string): Session.Route => {
      const resolved = router.resolve(model)
      if (Either.isLeft(resolved))
        return { _tag: "Refused", ending: { _tag: "Policy", message: resolved.left.message } }
      const candidate = resolved.right.candidates[0]
      if (candidate === undefined)
        return { _tag: "Refused", ending: { _tag: "Policy", message: `model "${model}" has no target` } }
      const target = Gateway.pick(candidate.deployments)
      const provider = config.providers[target.provider]
      const apiKey = target.apiKey ?? provider?.apiKey
      const key = apiKey === undefined ? undefined : Redacted.value(apiKey)
      const connection = (url: string, headers: Record<string, string>): Upstream.Connection => ({
        url,
        headers: { ...provider?.headers, ...headers },
        maxPayload: section.maxFrame,
        highWater: section.highWater,
        connectTimeout: section.connectTimeout,
      })
      switch (provider?.type) {
        case "mock":
          return { _tag: "Route", format: "mock", upstreamModel: target.model, open: (h) => MockUpstream.make(h) }
        case "gemini":
          return {
            _tag: "Route",
            format: "gemini",
            upstreamModel: target.model,
            open: (h) =>
              Upstream.connect(
                "gemini",
                connection(
                  `${wsBase(provider.baseUrl ?? "https://generativelanguage.googleapis.com").replace(/\/v1(beta|alpha)?$/, "")}${LiveUpstream.path(version)}`,
                  key === undefined ? {} : { "x-goog-api-key": key },
                ),
                LiveUpstream.make(target.model),
                h,
              ),
          }
        case "openai":
          return {
            _tag: "Route",
            format: "openai",
            upstreamModel: target.model,
            open: (h) =>
              Upstream.connect(
                "openai",
                connection(
                  `${wsBase(provider.baseUrl ?? "https://api.openai.com/v1")}/realtime?model=${encodeURIComponent(target.model)}`,
                  key === undefined ? {} : { authorization: `Bearer ${key}` },
                ),
                RealtimeUpstream.make(),
                h,
              ),
          }
        default:
          return {
            _tag: "Refused",
            ending: {
              _tag: "Policy",
              message: `model "${model}" is served by a provider of type ${provider?.type ?? "unknown"}, which has no realtime API`,
            },
          }
      }
    }

  const upgrade: UpgradeHandler = (req, socket, head) => {
    socket.on("error", () => socket.destroy())
    let url: URL
    try {
      url = new URL((req.url ?? "/").replace(/^\/+/, "/"), "http://gateway")
    } catch {
      return refuse(socket, 400, "invalid request target")
    }
    const pathname = url.pathname.replace(/\/{2,}/g, "/")
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) if (!secretHeaders.has(k) && typeof v === "string") headers[k] = v
    const liveMatch = livePath.exec(pathname)
    let format: Format
    let credential: string | undefined
    let model: string | undefined
    let version = "v1beta"
    if (liveMatch !== null) {
      format = "gemini"
      version = liveMatch[1]!
      credential = url.searchParams.get("key") ?? headerOf(req, "x-goog-api-key")
    } else if (pathname === "/v1/realtime") {
      format = "openai"
      const auth = headerOf(req, "authorization")
      credential =
        auth !== undefined && /^bearer /i.test(auth)
          ? auth.slice(7).trim()
          : (headerOf(req, "sec-websocket-protocol")
              ?.split(",")
              .map((p) => p.trim())
              .find((p) => p.startsWith(keyProtocol))
              ?.slice(keyProtocol.length) ?? undefined)
      model = url.searchParams.get("model") ?? undefined
      if (model === undefined) return refuse(socket, 400, "model: the model query parameter is required")
      const problem = ModelId.problem(model)
      if (problem !== undefined) return refuse(socket, 400, `model: ${problem}`)
    } else {
      return refuse(socket, 404, "no WebSocket endpoint at this path")
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      live++
      const ctx: RequestContext = {
        id: `rt-${Date.now().toString(36)}-${(++sessions).toString(36)}`,
        ingress: format === "gemini" ? "gemini-live" : "openai-realtime",
        startedAt: Date.now(),
        headers,
        credential: credential === undefined ? undefined : Redacted.make(credential),
      }
      const codec: ClientCodec = format === "gemini" ? LiveCodec.make() : RealtimeCodec.make(model!)
      Session.start({
        ws,
        codec,
        model,
        limits: section,
        meter: (m) => Meter.make({ middleware: options.middleware, runtime: options.runtime, ctx, model: m }),
        route: (m) => {
          const problem = ModelId.problem(m)
          return problem !== undefined
            ? { _tag: "Refused", ending: { _tag: "Invalid", message: `model: ${problem}` } }
            : route(version)(m)
        },
        onEnd: () => {
          live--
        },
      })
    })
  }
  return { upgrade, open: () => live }
}

const headerOf = (req: Http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return typeof v === "string" ? v : undefined
}
