/** Reading the config file for a command: every failure is a message, never a stack trace. */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Effect, Either, Option } from "effect"
import { Config } from "@sluice/core"
import * as Assemble from "../Assemble.ts"
import * as Modules from "../Modules.ts"
import * as PluginLoader from "../PluginLoader.ts"
import { CliFailure } from "./CliFailure.ts"

export { CliFailure } from "./CliFailure.ts"

/** A validated config and the modules it is assembled from (this binary's plus the config's `plugins:`). */
export interface Loaded {
  readonly config: Config.GatewayConfig
  readonly modules: Modules.Modules
}

export const load = (
  file: Option.Option<string>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Effect.Effect<Loaded, CliFailure> =>
  Effect.gen(function* () {
    const base = yield* Modules.current
    const where = Option.isSome(file) ? ` ${file.value}` : ""
    const invalid = (e: Config.ConfigError) => new CliFailure(`invalid config${where}:\n${e.message}`)
    if (Option.isNone(file)) {
      const config = yield* Either.mapLeft(Assemble.loadConfig(undefined, env, base), invalid)
      return { config, modules: base }
    }
    const text = yield* Effect.try({
      try: () => Fs.readFileSync(file.value, "utf8"),
      catch: (e) =>
        new CliFailure(`cannot read config file ${file.value}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`),
    })
    // Plugins first: their sections are part of what the config may contain.
    const specs = yield* Either.mapLeft(Config.pluginsOf(text), invalid)
    const plugins = yield* PluginLoader.load(specs, Path.dirname(Path.resolve(file.value))).pipe(
      Effect.mapError(invalid),
    )
    const modules = Modules.withPlugins(base, plugins)
    const config = yield* Either.mapLeft(Assemble.loadConfig(text, env, modules), invalid)
    return { config, modules }
  })

export const read = (
  file: Option.Option<string>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Effect.Effect<Config.GatewayConfig, CliFailure> => Effect.map(load(file, env), (l) => l.config)
