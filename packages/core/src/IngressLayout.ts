/**
 * URL layouts other gateways use, over any ingress: a path prefix per wire format (HasteKit's
 * `/api/gateway/openai/…`, `/api/gateway/anthropic/…`, `/api/gateway/gemini/v1beta/…`) and fixed
 * routes whose path pins the wire format and the model (Kong's and Gloo's `POST /gemini` with the
 * model supplied by the route). Both reuse the ingress's own routes, so decoding, errors and
 * credentials stay the format's own.
 *
 * Config (`ingress:` section, beside `ingress.gemini.pathPrefix` which Gemini's package reads):
 *   ingress:
 *     openai:    { pathPrefix: /api/gateway/openai }     # serves …/v1/chat/completions and …/chat/completions
 *     anthropic: { pathPrefix: /api/gateway/anthropic }
 *     routes:
 *       - { path: /gemini, format: gemini, model: gemini-2.5-flash }
 *       - { path: /chat, format: openai, model: gpt-4o-mini }
 */
import { Effect, type Either, Schema } from "effect"
import * as Config from "./Config.ts"
import type { Ingress, IngressRequest, Route } from "./Ingress.ts"
import * as ModelId from "./ModelId.ts"

export const PathPrefix = Schema.String.pipe(
  Schema.filter(
    (s) => /^\/[A-Za-z0-9._~\-/]*[^/]$/.test(s) || "expected a path like /api/gateway/openai (no trailing /)",
  ),
)

export const Formats = ["gemini", "openai", "openai-responses", "anthropic"] as const

export const FixedRoute = Schema.Struct({
  /** Where clients POST, e.g. `/gemini`. */
  path: PathPrefix,
  /** The wire format of the body and the answer. */
  format: Schema.Literal(...Formats),
  /** The model the route supplies; a model the client names is replaced by it. */
  model: ModelId.ModelIdSchema,
  /** Gemini only: stream the answer (also when the client asks with `?alt=sse`). */
  stream: Schema.optional(Schema.Boolean),
})
export type FixedRoute = typeof FixedRoute.Type

export const Section = Schema.Struct({
  gemini: Schema.optional(Schema.Unknown),
  openai: Schema.optional(Schema.Struct({ pathPrefix: Schema.optional(PathPrefix) })),
  anthropic: Schema.optional(Schema.Struct({ pathPrefix: Schema.optional(PathPrefix) })),
  routes: Schema.optional(Schema.Array(FixedRoute)),
})
export type Section = typeof Section.Type

/** The `ingress:` section (Gemini's own part is decoded by its package). */
export const fromConfig = (config: Config.GatewayConfig): Either.Either<Section, Config.ConfigError> =>
  Config.decodeSection(Section, config.ingress ?? {}, "ingress")

/**
 * The ingress with every route also under `prefix`. Shared-path guards (`when`) are dropped
 * there: under its own prefix nothing else claims a path. `stripV1` also serves each `/v1/…`
 * route as `prefix/…`, for clients whose base URL is the prefix itself (OpenAI SDKs append
 * `/chat/completions` to the base URL they are given).
 */
export const withPrefix = (ingress: Ingress, prefix: string, stripV1 = false): Ingress => {
  const prefixed = ingress.routes.flatMap((r): Array<Route> => {
    const plain: Route = { method: r.method, path: `${prefix}${r.path}`, handle: r.handle }
    return stripV1 && r.path.startsWith("/v1/")
      ? [plain, { method: r.method, path: `${prefix}${r.path.slice(3)}`, handle: r.handle }]
      : [plain]
  })
  return { ...ingress, routes: [...prefixed, ...ingress.routes] }
}

/** The ingress route a fixed route of `format` reuses. */
const targetPath = (route: FixedRoute, streaming: boolean): string => {
  switch (route.format) {
    case "gemini":
      return `/v1beta/models/{model+}:${streaming ? "streamGenerateContent" : "generateContent"}`
    case "openai":
      return "/v1/chat/completions"
    case "openai-responses":
      return "/v1/responses"
    case "anthropic":
      return "/v1/messages"
  }
}

/** The request as the target route expects it: the route's model in the path or the body. */
const withModel = (route: FixedRoute, request: IngressRequest): IngressRequest =>
  route.format === "gemini"
    ? { ...request, params: { ...request.params, model: route.model } }
    : {
        ...request,
        json: Effect.map(request.json, (body) =>
          typeof body === "object" && body !== null && !Array.isArray(body) ? { ...body, model: route.model } : body,
        ),
      }

/** The ingress of `route.format` with the fixed routes added (POST only, as the formats are). */
export const withFixedRoutes = (ingress: Ingress, routes: ReadonlyArray<FixedRoute>): Ingress => {
  const find = (path: string) => ingress.routes.find((r) => r.method === "POST" && r.path === path)
  const added = routes.flatMap((route): Array<Route> => {
    const plain = find(targetPath(route, false))
    const streamed = find(targetPath(route, true))
    if (plain === undefined || streamed === undefined) return []
    return [
      {
        method: "POST",
        path: route.path,
        handle: (request, handler) => {
          const streaming = route.stream === true || request.query.get("alt") === "sse"
          return (streaming ? streamed : plain).handle(withModel(route, request), handler)
        },
      },
    ]
  })
  return { ...ingress, routes: [...added, ...ingress.routes] }
}

/** Which ingress serves a fixed route's format. */
export const ingressName = (format: FixedRoute["format"]): string => (format === "openai-responses" ? "openai" : format)

/** Apply a decoded `ingress:` section to the ingresses by name. */
export const apply = (ingresses: ReadonlyArray<Ingress>, section: Section): ReadonlyArray<Ingress> =>
  ingresses.map((ingress) => {
    const prefix =
      ingress.name === "openai"
        ? section.openai?.pathPrefix
        : ingress.name === "anthropic"
          ? section.anthropic?.pathPrefix
          : undefined
    const fixed = (section.routes ?? []).filter((r) => ingressName(r.format) === ingress.name)
    const prefixed = prefix === undefined ? ingress : withPrefix(ingress, prefix, ingress.name === "openai")
    return fixed.length === 0 ? prefixed : withFixedRoutes(prefixed, fixed)
  })
