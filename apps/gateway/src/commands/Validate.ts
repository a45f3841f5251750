/** `sluice validate --config FILE`: check a config (schema, references, provider types, middleware) and exit. */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { Upstream } from "@sluice/core"
import * as Assemble from "../Assemble.ts"
import * as ConfigFile from "./ConfigFile.ts"

export const command = Command.make(
  "validate",
  { config: Options.file("config").pipe(Options.withDescription("YAML config file")) },
  ({ config: file }) =>
    Effect.gen(function* () {
      const { config, modules } = yield* ConfigFile.load(Option.some(file))
      yield* Effect.scoped(Assemble.build(config, { modules })).pipe(
        Effect.provide(Upstream.layer),
        Effect.mapError((e) => new ConfigFile.CliFailure(`invalid config ${file}:\n${e.message}`)),
      )
      yield* Console.log(
        `${file}: ok (${Object.keys(config.providers).length} providers, ${Object.keys(config.models).length} models, ${config.routes.length} routes)`,
      )
    }),
).pipe(Command.withDescription("Check a config file; exit non-zero naming every bad key"))
