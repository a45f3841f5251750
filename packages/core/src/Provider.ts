/**
 * A Provider is one configured upstream connection (e.g. `openai` with its key and base URL)
 * speaking canonical requests. Protocol packages contribute ProviderTypes (factories by `type:`
 * name); the registry instantiates one Provider per `providers:` entry.
 */
import type { HttpClient } from "@effect/platform"
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
import type { ConfigError, ProviderConfig } from "./Config.ts"

/** Per-call facts a provider needs beyond the canonical request. */
export interface CallContext {
  readonly requestId: string
  /** A key that overrides the provider's own (a deployment's key, or a client passthrough key). */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Headers to forward upstream (W3C traceparent, …). */
  readonly forwardHeaders?: Readonly<Record<string, string>> | undefined
}

export interface Provider {
  /** The configured name (`providers.<name>`). */
  readonly name: string
  /** The type it was built from ("openai", "gemini", …). */
  readonly type: string
  /** `request.model` is already the upstream model name. */
  readonly chat: (request: ChatRequest, ctx: CallContext) => Effect.Effect<ChatResponse, GatewayError>
  readonly chatStream: (request: ChatRequest, ctx: CallContext) => Stream.Stream<StreamEvent, GatewayError>
  readonly embed: (request: EmbedRequest, ctx: CallContext) => Effect.Effect<EmbedResponse, GatewayError>
  readonly countTokens: (request: ChatRequest, ctx: CallContext) => Effect.Effect<number, GatewayError>
  /** The upstream's own model list, when it has one. */
  readonly listModels: (ctx: CallContext) => Effect.Effect<ReadonlyArray<ModelInfo>, GatewayError>
  /**
   * Every call this provider makes goes through core `Upstream` (so it honours
   * `Upstream.currentAbort`): the gateway then enforces its deadlines with a plain timer that
   * aborts the call, instead of racing each call against a timer fiber. Leave it unset otherwise.
   */
  readonly abortable?: boolean | undefined
}

/** A factory for one `type:` of provider, contributed by a protocol package. */
export interface ProviderType {
  readonly type: string
  /** Base URL used when the config gives none. */
  readonly defaultBaseUrl?: string | undefined
  /** Whether the type needs an apiKey (checked at start, so a missing key fails early). */
  readonly requiresKey: boolean
  /**
   * The headers this type puts credentials in (`x-goog-api-key`, …): recorded redacted on spans.
   * The registry adds the common ones and the entry's own `headers:` names.
   */
  readonly credentialHeaders?: ReadonlyArray<string> | undefined
  /** Fails with a ConfigError (naming `providers.<name>.…`) when the entry is unusable, so it fails at start. */
  readonly make: (name: string, config: ProviderConfig) => Effect.Effect<Provider, ConfigError, HttpClient.HttpClient>
}
