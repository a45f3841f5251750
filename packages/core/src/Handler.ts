/**
 * The request path's one abstraction: a Handler takes a canonical request and answers with a
 * canonical response (complete or streamed) or a GatewayError. Ingress codecs produce
 * GatewayRequests, middleware wraps Handlers, the terminal handler calls a Provider.
 */
import type { Effect, Redacted, Stream } from "effect"
import type {
  ChatRequest,
  ChatResponse,
  EmbedRequest,
  EmbedResponse,
  GatewayError,
  ModelInfo,
  StreamEvent,
} from "@sluice/schema"
import type { Values as KeyPolicyValues } from "./KeyPolicy.ts"

/** Who is calling, once a virtual key was verified (set by @sluice/auth). */
export interface Principal {
  readonly id: string
  readonly name: string
  /** Wildcard patterns of model ids this caller may use; undefined = all. */
  readonly allowedModels?: ReadonlyArray<string> | undefined
  /**
   * The key's policy, decoded once when the key was loaded (rate limits, budget, guardrails, a
   * plugin's own): each middleware reads its part through its `KeyPolicy.Field`'s `get`.
   */
  readonly policy?: KeyPolicyValues | undefined
  /**
   * The key's own provider credentials by provider name: used for calls to that provider instead
   * of the provider's (or deployment's) configured key, retries and fallbacks included.
   */
  readonly credentials?: Readonly<Record<string, Redacted.Redacted<string>>> | undefined
}

export interface RequestContext {
  readonly id: string
  /** The wire format the client spoke: "gemini" | "openai" | "anthropic" | … */
  readonly ingress: string
  /** Epoch ms when the request arrived. */
  readonly startedAt: number
  /** Incoming headers, lower-cased names. */
  readonly headers: Readonly<Record<string, string>>
  /** The credential the client presented where its SDK puts one. Never logged. */
  readonly credential: Redacted.Redacted<string> | undefined
  readonly principal?: Principal | undefined
  /**
   * What inner middleware learn for the outer ones (tracing, request logs), typed: auth notes the
   * verified key here, since an outer middleware never sees the context it passes inward. Set by
   * whichever outer middleware wants to read it; absent otherwise.
   */
  readonly notes?: RequestNotes | undefined
}

export interface RequestNotes {
  /** The verified key's principal (never the key itself). */
  principal?: Principal | undefined
}

/** Where a request was answered: set by the terminal handler, read by tracing and request logs. */
export interface Route {
  /** `provider/model` of the deployment that answered. */
  readonly target: string
  readonly provider: string
  /** The upstream model id. */
  readonly model: string
  /** 1-based number of the attempt that answered (retries and fallbacks counted). */
  readonly attempts: number
}

export type GatewayRequest =
  | { readonly _tag: "Chat"; readonly ctx: RequestContext; readonly chat: ChatRequest }
  | { readonly _tag: "Embed"; readonly ctx: RequestContext; readonly embed: EmbedRequest }
  | { readonly _tag: "CountTokens"; readonly ctx: RequestContext; readonly chat: ChatRequest }
  | { readonly _tag: "ListModels"; readonly ctx: RequestContext }

export type Headers = Readonly<Record<string, string>>

/** Response metadata every variant may carry (typed; clients see only `headers`). */
interface Meta {
  readonly headers: Headers
  /** Set by the terminal handler for answers that came from an upstream (absent for e.g. cache hits). */
  readonly route?: Route | undefined
}

export type GatewayResponse =
  | (Meta & { readonly _tag: "Chat"; readonly chat: ChatResponse })
  | (Meta & {
      readonly _tag: "ChatStream"
      readonly events: Stream.Stream<StreamEvent, GatewayError>
      /**
       * The upstream call was made, and the first events read, before this response was returned
       * (the terminal handler's streams): pulling only moves data, so middleware need not run the
       * first pull in the request's context (tracing skips wrapping it under its span).
       */
      readonly opened?: boolean | undefined
    })
  | (Meta & { readonly _tag: "Embed"; readonly embed: EmbedResponse })
  | (Meta & { readonly _tag: "CountTokens"; readonly inputTokens: number })
  | (Meta & { readonly _tag: "ListModels"; readonly models: ReadonlyArray<ModelInfo> })

/** A Handler closes over its services, so it needs nothing from the environment. */
export type Handler = (request: GatewayRequest) => Effect.Effect<GatewayResponse, GatewayError>

/** The model a request names, if it names one. */
export const modelOf = (request: GatewayRequest): string | undefined => {
  switch (request._tag) {
    case "Chat":
    case "CountTokens":
      return request.chat.model
    case "Embed":
      return request.embed.model
    case "ListModels":
      return undefined
  }
}

/** The same response with extra headers (later values win). */
export const withHeaders = <R extends GatewayResponse>(response: R, headers: Headers): R => ({
  ...response,
  headers: { ...response.headers, ...headers },
})
