/**
 * The `guardrails` plugin for the YAML-driven gateway (section `guardrails:`). Custom checks are
 * code, so an app that has some registers them with `withChecks({ name: check })` and lists
 * that plugin instead of the default one.
 */
import { Config, type Middleware } from "@sluice/core"
import { Effect } from "effect"
import type * as Custom from "./Custom.ts"
import * as GuardrailsMiddleware from "./Middleware.ts"
import { GuardrailsConfig, keyPolicy } from "./Policy.ts"

export const withChecks = (custom: Custom.Registry): Middleware.Plugin => ({
  name: "guardrails",
  sections: { guardrails: GuardrailsConfig },
  // A key's own policy names, decoded by auth when the key is loaded.
  keyPolicy: [keyPolicy],
  fromConfig: (config) =>
    config.guardrails === undefined
      ? Effect.succeed(undefined)
      : Config.decodeSection(GuardrailsConfig, config.guardrails, "guardrails").pipe(
          Effect.flatMap((section) => GuardrailsMiddleware.make({ config: section, custom })),
          Effect.map((middleware) => ({ middleware })),
        ),
})

export const plugin: Middleware.Plugin = withChecks({})
