/**
 * The providers of one gateway config, instantiated once at start from the `providers:` section
 * and the ProviderTypes that protocol packages contribute.
 */
import { HttpClient } from "@effect/platform"
import { Effect } from "effect"
import { type ConfigIssue, ConfigError, type GatewayConfig, type ProviderConfig } from "./Config.ts"
import * as CredentialHeaders from "./CredentialHeaders.ts"
import type { Provider, ProviderType } from "./Provider.ts"
import * as Secrets from "./Secrets.ts"

export interface Registry {
  readonly get: (name: string) => Provider | undefined
  /** The provider's config entry (passthrough, options), when it came from config. */
  readonly config: (name: string) => ProviderConfig | undefined
  readonly names: ReadonlyArray<string>
}

export const make = (
  config: GatewayConfig,
  types: ReadonlyArray<ProviderType>,
): Effect.Effect<Registry, ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const byType = new Map(types.map((t) => [t.type, t]))
    const client = yield* HttpClient.HttpClient
    // One mechanism for every provider type, so no provider can forget it: its client redacts
    // its credential headers on spans, and its errors lose every configured secret.
    const scrubber = Secrets.scrubber(Secrets.ofConfig(config))
    const issues: Array<ConfigIssue> = []
    const providers = new Map<string, Provider>()
    for (const [name, entry] of Object.entries(config.providers)) {
      const type = byType.get(entry.type)
      if (type === undefined) {
        issues.push({
          path: `providers.${name}.type`,
          message: `no provider package is registered for type "${entry.type}"`,
        })
        continue
      }
      if (type.requiresKey && entry.apiKey === undefined && entry.passthrough !== true) {
        issues.push({ path: `providers.${name}.apiKey`, message: `required for type "${entry.type}"` })
        continue
      }
      const resolved =
        entry.baseUrl === undefined && type.defaultBaseUrl !== undefined
          ? { ...entry, baseUrl: type.defaultBaseUrl }
          : entry
      const redacted = CredentialHeaders.redacting(client, [
        ...CredentialHeaders.defaults,
        ...(type.credentialHeaders ?? []),
        ...Object.keys(entry.headers ?? {}),
      ])
      const provider = yield* type.make(name, resolved).pipe(Effect.provideService(HttpClient.HttpClient, redacted))
      providers.set(name, Secrets.guard(provider, scrubber))
    }
    if (issues.length > 0) return yield* Effect.fail(new ConfigError({ issues }))
    return {
      get: (name) => providers.get(name),
      config: (name) => config.providers[name],
      names: [...providers.keys()],
    }
  })

/** A registry over providers built by hand (tests, custom gateways). */
export const fromProviders = (providers: ReadonlyArray<Provider>): Registry => {
  const scrubber = Secrets.scrubber([])
  const map = new Map(providers.map((p) => [p.name, Secrets.guard(p, scrubber)]))
  return { get: (name) => map.get(name), config: () => undefined, names: [...map.keys()] }
}
