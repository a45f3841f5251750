/**
 * Everything the reference server can assemble, in one place: provider types, wire-format
 * ingresses and middleware plugins. Adding a package to the gateway is one line here.
 */
import type { Config, Ingress, Middleware, ProviderType } from "@sluice/core"
import { MockProvider } from "@sluice/core"
import * as SluiceAuth from "@sluice/auth"

export const providerTypes: ReadonlyArray<ProviderType> = [MockProvider.providerType]

/** The wire formats clients may speak, configured from the `ingress:` section. */
export const ingresses = (_config: Config.GatewayConfig): ReadonlyArray<Ingress.Ingress> => []

/** Middleware by name, for the `middleware:` list. */
export const plugins: ReadonlyArray<Middleware.Plugin> = [SluiceAuth.plugin]

/** The order used when the config has no `middleware:` list (outermost first). */
export const defaultOrder: ReadonlyArray<string> = ["tracing", "auth", "ratelimit", "guardrails"]
