/**
 * Realtime for the YAML-driven gateway: the `realtime:` section's limits, and the upgrade
 * handler whose sessions are metered by the given middleware (the gateway's own, in order).
 */
import { Effect } from "effect"
import { Config } from "@sluice/core"
import type { NamedMiddleware } from "./Meter.ts"
import { RealtimeSection } from "./Section.ts"
import * as Server from "./Server.ts"

export const fromConfig = (
  config: Config.GatewayConfig,
  middleware: ReadonlyArray<NamedMiddleware>,
): Effect.Effect<ReturnType<typeof Server.make>, Config.ConfigError> =>
  Effect.gen(function* () {
    const section = yield* Config.decodeSection(RealtimeSection, config.realtime ?? {}, "realtime")
    const runtime = yield* Effect.runtime<never>()
    return Server.make({ config, section, middleware, runtime })
  })
