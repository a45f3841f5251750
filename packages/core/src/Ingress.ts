/**
 * What a wire-format package contributes to the HTTP server: routes that decode a request into
 * a GatewayRequest, call the Handler, and encode the answer (JSON or a stream of text frames) —
 * plus how it renders a GatewayError and where its clients put their credential.
 */
import type { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { Effect, Stream } from "effect"
import type { GatewayError } from "@sluice/schema"
import type { Handler, RequestContext } from "./Handler.ts"

export type Reply =
  | {
      readonly _tag: "Json"
      readonly status: number
      readonly body: unknown
      readonly headers?: Readonly<Record<string, string>> | undefined
      /** The error this reply renders, when it is one (for the access log of refused requests). */
      readonly error?: GatewayError | undefined
    }
  | {
      readonly _tag: "Stream"
      readonly status: number
      /** e.g. `text/event-stream` or `application/json` (Gemini's streamed JSON array). */
      readonly contentType: string
      /** Already framed text (or bytes: audio, video); errors must be encoded into the frames by the ingress. */
      readonly body: Stream.Stream<string | Uint8Array>
      readonly headers?: Readonly<Record<string, string>> | undefined
    }

export interface IngressRequest {
  readonly method: string
  readonly path: string
  /** Values captured by the route pattern's `{name}` segments. */
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string>>
  /** The body parsed as JSON; body limit enforced; malformed JSON is an InvalidRequest. */
  readonly json: Effect.Effect<unknown, GatewayError>
  /**
   * The raw body (multipart forms, file uploads), refused past `limit` bytes (default: the
   * server's body limit) with a PayloadTooLarge. Read the body once: `json` or `bytes`.
   */
  readonly bytes: (limit?: number) => Effect.Effect<Uint8Array, GatewayError>
  readonly ctx: RequestContext
}

export interface Route {
  readonly method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH"
  /**
   * `/v1beta/models/{model}:generateContent` — `{name}` matches within one segment up to the
   * next literal; `{name+}` may span `/` (model ids like `openai/gpt-4o`).
   */
  readonly path: string
  /**
   * When two wire formats share a path (`GET /v1/models` is OpenAI's, Gemini's under `/v1/` and
   * Anthropic's), the route also checks the request's headers/query; the first route whose
   * path matches and whose `when` accepts wins. Ingresses are mounted most specific first.
   */
  readonly when?: ((headers: Readonly<Record<string, string>>, query: URLSearchParams) => boolean) | undefined
  readonly handle: (request: IngressRequest, handler: Handler) => Effect.Effect<Reply>
}

export interface Ingress {
  /** The wire format's name, stored in RequestContext.ingress. */
  readonly name: string
  readonly routes: ReadonlyArray<Route>
  /** Where this format's clients put their key (header, query). */
  readonly credential: (headers: Readonly<Record<string, string>>, query: URLSearchParams) => string | undefined
  /** A GatewayError in this format's shape and status. */
  readonly error: (error: GatewayError) => Reply
}

export interface CompiledPattern {
  readonly match: (path: string) => Record<string, string> | undefined
  /** Literal prefix, for quick rejection. */
  readonly prefix: string
}

/** Compile a route path pattern. */
export const compile = (pattern: string): CompiledPattern => {
  const names: Array<string> = []
  let re = "^"
  let prefix = ""
  let seenParam = false
  const token = /\{([A-Za-z_][A-Za-z0-9_]*)(\+)?\}/g
  let last = 0
  for (let m = token.exec(pattern); m !== null; m = token.exec(pattern)) {
    const literal = pattern.slice(last, m.index)
    re += literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    if (!seenParam) prefix += literal
    seenParam = true
    names.push(m[1]!)
    re += m[2] === "+" ? "(.+?)" : "([^/]+?)"
    last = m.index + m[0].length
  }
  const tail = pattern.slice(last)
  re += `${tail.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`
  if (!seenParam) prefix += tail
  const regex = new RegExp(re)
  return {
    prefix,
    match: (path) => {
      if (!path.startsWith(prefix)) return undefined
      const m = regex.exec(path)
      if (m === null) return undefined
      const params: Record<string, string> = {}
      for (let i = 0; i < names.length; i++) {
        try {
          params[names[i]!] = decodeURIComponent(m[i + 1]!)
        } catch {
          params[names[i]!] = m[i + 1]!
        }
      }
      return params
    },
  }
}

/**
 * A check the server runs on a request's headers before its body is read — the caller's key —
 * so a caller it refuses costs no body read and no JSON parse. A failure is the answer.
 */
export type Admit = (ctx: RequestContext) => Effect.Effect<void, GatewayError>

/** A request the server answered without calling the handler: refused by an Admit, or a body that did not decode. */
export interface Refused {
  readonly ctx: RequestContext
  readonly method: string
  readonly path: string
  readonly status: number
  readonly error?: GatewayError | undefined
}

/** One server-sent event frame. */
export const sseFrame = (data: string, event?: string): string =>
  event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`

/** A route that is not an LLM wire format (admin API, metrics): it sees the raw HTTP request. */
export interface PlainRoute {
  readonly method: string
  readonly path: string
  readonly handle: (
    request: HttpServerRequest.HttpServerRequest,
    params: Readonly<Record<string, string>>,
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse>
}
