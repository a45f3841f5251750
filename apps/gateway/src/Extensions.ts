/**
 * What an app's own binary adds to the built-in modules (`Sluice.main({ plugins, providerTypes })`),
 * known to every command. A light module on purpose: the built-ins themselves (every package) are
 * loaded only by the commands that assemble a gateway, so `sluice --help` does not read them.
 */
import { Context } from "effect"
import type { Middleware, ProviderType } from "@sluice/core"

export interface Extensions {
  /** Middleware plugins besides the built-ins (one with a built-in's name replaces it). */
  readonly plugins?: ReadonlyArray<Middleware.AnyPlugin> | undefined
  /** Provider types besides the built-ins. */
  readonly providerTypes?: ReadonlyArray<ProviderType> | undefined
}

export class Current extends Context.Reference<Current>()("@sluice/gateway/Extensions", {
  defaultValue: (): Extensions => ({}),
}) {}
