/** What `sluice validate` runs (loaded when the command runs, not for `--help`). */
import { Console, Effect, Option } from "effect"
import { Upstream } from "@sluice/core"
import * as Assemble from "../Assemble.ts"
import * as ConfigFile from "./ConfigFile.ts"

export const run = ({ config: file }: { readonly config: string }) =>
  Effect.gen(function* () {
    const { config, modules } = yield* ConfigFile.load(Option.some(file))
    yield* Effect.scoped(Assemble.build(config, { modules })).pipe(
      Effect.provide(Upstream.layer),
      Effect.mapError((e) => new ConfigFile.CliFailure(`invalid config ${file}:\n${e.message}`)),
    )
    yield* Console.log(
      `${file}: ok (${Object.keys(config.providers).length} providers, ${Object.keys(config.models).length} models, ${config.routes.length} routes)`,
    )
  })
