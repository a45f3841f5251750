/**
 * `auth` for the YAML-driven gateway. It is on when the config has `keys:`, `auth:` or `admin:`;
 * with none of them the gateway is open and says so at start. Cross-section checks fail at
 * start: a key with a budget needs a price table, a Redis store needs `redis: { url }`.
 */
import { Effect, Either, Layer, Redacted, type Scope } from "effect"
import { Config, Echo, KeyPolicy, type Middleware, Router } from "@sluice/core"
import * as Admin from "./Admin.ts"
import * as Auth from "./Auth.ts"
import * as Credentials from "./Credentials.ts"
import {
  AdminSection,
  AuthSection,
  configKeyOwnFields,
  KeysSection,
  keyPolicyOf,
  RedisSection,
  toRecord,
} from "./ConfigKeys.ts"
import { sha256 } from "./Hash.ts"
import * as KeyRecordM from "./KeyRecord.ts"
import * as KeyStore from "./KeyStore.ts"
import { KeyStoreService } from "./KeyStoreService.ts"

/** True when every target (fallbacks included) of the model is a passthrough provider. */
export const passthroughResolver = (config: Config.GatewayConfig): ((model: string) => boolean) => {
  const open = new Set(
    Object.entries(config.providers)
      .filter(([, p]) => p.passthrough === true)
      .map(([name]) => name),
  )
  if (open.size === 0) return () => false
  const router = Router.make(config)
  return (model) => {
    const resolved = router.resolve(model)
    if (Either.isLeft(resolved) || resolved.right.candidates.length === 0) return false
    return resolved.right.candidates.every((c) => c.deployments.every((d) => open.has(d.provider)))
  }
}

/**
 * A key store another package provides (`auth.store: postgres` from @sluice/postgres), so auth
 * does not depend on every database client.
 */
export interface ExternalStore {
  readonly kind: "postgres"
  readonly make: (
    config: Config.GatewayConfig,
    options: { readonly cacheTtlMs: number; readonly timeoutMs: number },
  ) => Effect.Effect<KeyStore.KeyStore, Config.ConfigError, Scope.Scope>
}

/** Auth is on when the config has keys, an auth: or an admin: section. */
export const configured = (config: Config.GatewayConfig): boolean =>
  (Array.isArray(config.keys) ? config.keys.length > 0 : config.keys !== undefined) ||
  config.auth !== undefined ||
  config.admin !== undefined

export const make = (options: { readonly stores?: ReadonlyArray<ExternalStore> } = {}): Middleware.Plugin => ({
  name: "auth",
  sections: { keys: KeysSection, auth: AuthSection, admin: AdminSection, redis: RedisSection },
  // The writable store (admin-made keys, memory or Redis) outlives config reloads; config keys are per config.
  services: (config) => (configured(config) ? KeyStoreService.layerConfig(config) : Layer.empty),
  fromConfig: (config) =>
    Effect.gen(function* () {
      if (!configured(config)) {
        yield* Effect.logWarning(
          "auth: no virtual keys configured (no keys:, auth: or admin: section): the gateway is open to anyone who can reach it",
        )
        return undefined
      }
      const keys = yield* Config.decodeSection(KeysSection, config.keys ?? [], "keys")
      const auth = yield* Config.decodeSection(AuthSection, config.auth ?? {}, "auth")
      const admin =
        config.admin === undefined ? undefined : yield* Config.decodeSection(AdminSection, config.admin, "admin")

      const issues: Array<Config.ConfigIssue> = []
      // Config keys' own provider credentials are sealed like stored ones; without configured
      // credential keys a key of this process seals them (they live only in its memory anyway).
      const credentialKeys = auth.credentialKeys ?? []
      const sealKeys =
        credentialKeys.length === 0 && keys.some((k) => k.providerKeys !== undefined)
          ? [Credentials.ephemeralKey()]
          : credentialKeys
      keys.forEach((k, i) => {
        for (const provider of Object.keys(k.providerKeys ?? {}))
          if (!(provider in config.providers))
            issues.push({
              path: `keys[${i}].providerKeys.${Echo.cap(provider, 64)}`,
              message: "not a provider of this gateway (providers:)",
            })
      })
      const records = keys.map((k) => toRecord(k, sealKeys))
      const ids = new Map<string, number>()
      const hashes = new Map<string, number>()
      records.forEach((r, i) => {
        const id = ids.get(r.id)
        if (id !== undefined) issues.push({ path: `keys[${i}]`, message: `id "${r.id}" is also keys[${id}]'s` })
        else ids.set(r.id, i)
        const same = hashes.get(r.keyHash)
        if (same !== undefined) issues.push({ path: `keys[${i}]`, message: `the same key as keys[${same}]` })
        else hashes.set(r.keyHash, i)
      })
      // Each key's policy fields, decoded now by their owners' schemas: a malformed one, or one
      // that no installed middleware would enforce, fails the config naming its path.
      const policies = yield* KeyPolicy.Policies
      for (const name of policies.names)
        if (configKeyOwnFields.has(name) || KeyRecordM.ownFields.has(name))
          issues.push({ path: "plugins", message: `key policy field "${name}" is a field auth reads itself` })
      keys.forEach((k, i) => {
        const decoded = policies.decode(keyPolicyOf(k))
        if (Either.isLeft(decoded))
          for (const issue of decoded.left) issues.push({ path: `keys[${i}].${issue.path}`, message: issue.message })
      })
      if (auth.store === "redis" && config.redis === undefined)
        issues.push({ path: "auth.store", message: "the redis store needs a redis: { url } section" })
      const external = options.stores?.find((st) => st.kind === auth.store)
      if (auth.store === "postgres" && external === undefined)
        issues.push({ path: "auth.store", message: "the postgres store needs the @sluice/postgres package" })
      if (issues.length > 0) return yield* Effect.fail(new Config.ConfigError({ issues }))

      const dynamic =
        external !== undefined
          ? yield* external.make(config, { cacheTtlMs: auth.cacheTtl, timeoutMs: auth.timeout })
          : auth.store === "redis" || admin !== undefined
            ? yield* KeyStoreService.option
            : undefined
      const store = KeyStore.layered(KeyStore.fromRecords(records), dynamic)
      const adminKeyHash =
        admin === undefined
          ? undefined
          : admin.key !== undefined
            ? sha256(Redacted.value(admin.key))
            : admin.keyHash!.toLowerCase()
      yield* Effect.logInfo(
        `auth: ${records.length} key(s) from the config file, store ${auth.store}, admin API ${adminKeyHash === undefined ? "off" : "on"}`,
      )
      const verifier = Auth.make(store, {
        passthrough: passthroughResolver(config),
        passthroughAny: Object.values(config.providers).some((p) => p.passthrough === true),
        credentialKeys: sealKeys,
        policies,
      })
      return {
        middleware: verifier.middleware,
        admit: verifier.admit,
        routes:
          adminKeyHash === undefined
            ? undefined
            : Admin.routes({
                store,
                adminKeyHash,
                policies,
                credentialKeys,
                providers: Object.keys(config.providers),
              }),
      }
    }),
})

export const plugin: Middleware.Plugin = make()
