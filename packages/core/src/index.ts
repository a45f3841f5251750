export * as Audio from "./Audio.ts"
export * as Chunked from "./Chunked.ts"
export * as Collect from "./Collect.ts"
export * as Config from "./Config.ts"
export * as CurrentKey from "./CurrentKey.ts"
export * as CredentialHeaders from "./CredentialHeaders.ts"
export * as Echo from "./Echo.ts"
export * as Gateway from "./Gateway.ts"
export * as Handler from "./Handler.ts"
export * as Ingress from "./Ingress.ts"
export * as KeyPolicy from "./KeyPolicy.ts"
export * as ImageFanout from "./ImageFanout.ts"
export * as IngressLayout from "./IngressLayout.ts"
export * as Middleware from "./Middleware.ts"
export * as ModelId from "./ModelId.ts"
export * as MockImage from "./MockImage.ts"
export * as MockProvider from "./MockProvider.ts"
export * as MockVideo from "./MockVideo.ts"
export * as Params from "./Params.ts"
export * as Peek from "./Peek.ts"
export * as Pipeline from "./Pipeline.ts"
export * as RouteParams from "./RouteParams.ts"
export * as Provider from "./Provider.ts"
export * as ProviderRegistry from "./ProviderRegistry.ts"
export * as Router from "./Router.ts"
export * as Secrets from "./Secrets.ts"
export * as Sse from "./Sse.ts"
export * as Upstream from "./Upstream.ts"
export * as VideoJobs from "./VideoJobs.ts"
export * as Wildcard from "./Wildcard.ts"
export type {
  GatewayRequest,
  GatewayResponse,
  Handler as HandlerFn,
  Principal,
  RequestContext,
  RequestNotes,
  Route,
} from "./Handler.ts"
export type { Middleware as MiddlewareFn, MiddlewareSpec } from "./Middleware.ts"
export type { CallContext, Provider as ProviderService, ProviderType } from "./Provider.ts"
export * as Resilience from "./Resilience.ts"
export * as Services from "./Services.ts"
