/**
 * `ratelimit` for the YAML-driven gateway (section `rateLimit:`). It is on when the section is
 * present or when virtual keys are (`keys:`, `auth:`, `admin:`), since keys carry their own
 * limits. Redis needs a `redis: { url }` section; an unreachable Redis at start is not fatal —
 * the fail mode applies until it answers.
 */
import { Effect, Layer, Schema } from "effect"
import { Config, type Middleware } from "@sluice/core"
import { ConfigKeys } from "@sluice/auth"
import { Limiter } from "./LimiterService.ts"
import * as Policy from "./Policy.ts"
import * as RateLimit from "./RateLimit.ts"
import { StoreKind } from "./StoreKind.ts"
import * as Tokens from "./Tokens.ts"

export const Section = Schema.Struct({
  ...RateLimit.Settings.fields,
  store: Schema.optionalWith(StoreKind, { default: () => "memory" as const }),
  /** Bound on each store call: past it the fail mode decides. */
  timeout: Schema.optionalWith(Config.Duration, { default: () => 250 }),
})

const enabled = (config: Config.GatewayConfig) =>
  config.rateLimit !== undefined || config.keys !== undefined || config.auth !== undefined || config.admin !== undefined

export const plugin: Middleware.Plugin<Limiter> = {
  name: "ratelimit",
  sections: { rateLimit: Section, redis: ConfigKeys.RedisSection },
  // A key's own rpm/tpm, decoded by auth when the key is loaded.
  keyPolicy: [Policy.rateLimit],
  // The buckets outlive config reloads: only a change of store settings rebuilds them.
  services: (config) => (enabled(config) ? Limiter.layerConfig(config) : (Layer.empty as Layer.Layer<Limiter>)),
  fromConfig: (config) =>
    Effect.gen(function* () {
      if (!enabled(config)) return undefined
      const section = yield* Config.decodeSection(Section, config.rateLimit ?? {}, "rateLimit")
      if (section.store === "redis" && config.redis === undefined) {
        return yield* Effect.fail(
          new Config.ConfigError({
            issues: [{ path: "rateLimit.store", message: "the redis store needs a redis: { url } section" }],
          }),
        )
      }
      const store = yield* Limiter
      // One pass over the text, not a BPE encoding: the real count comes from the usage later.
      const estimator = Tokens.fast
      const { store: _kind, timeout: _timeout, ...settings } = section
      return { middleware: RateLimit.make({ store }, settings, estimator) }
    }),
}
