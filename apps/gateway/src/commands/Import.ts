/**
 * `sluice import gema config.toml` / `sluice import litellm config.yaml [--output sluice.yaml]`:
 * turn a peer gateway's config into a Sluice config that routes the same models the same way.
 * The YAML goes to stdout (or --output), the report of what has no equivalent to stderr; the
 * result is validated as `sluice validate` would, with unset `${ENV}` references stood in for.
 * The converters (./ImportRun.ts) are loaded when the command runs.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import type { Imported } from "../import/Imported.ts"
import type { CliFailure } from "./CliFailure.ts"

export const sources = {
  gema: "gema (api-for-gemini) config.toml",
  litellm: "LiteLLM proxy config.yaml",
} as const
export type Source = keyof typeof sources

const load = () => import("./ImportRun.ts")

/** Convert a source file's text; validation errors name the generated config's keys. */
export const importText = (
  source: Source,
  text: string,
  file: string,
): Effect.Effect<Imported & { readonly yaml: string }, CliFailure> =>
  Effect.flatMap(Effect.promise(load), (m) => m.importText(source, text, file))

const sub = (source: Source) =>
  Command.make(
    source,
    {
      file: Args.file({ name: "file", exists: "yes" }).pipe(Args.withDescription(`the ${sources[source]}`)),
      output: Options.file("output").pipe(
        Options.withAlias("o"),
        Options.withDescription("write the Sluice YAML here instead of stdout"),
        Options.optional,
      ),
    },
    ({ file, output }) => Effect.flatMap(Effect.promise(load), (m) => m.run(source, { file, output })),
  ).pipe(Command.withDescription(`Convert a ${sources[source]} into a Sluice config`))

export const command = Command.make("import").pipe(
  Command.withDescription("Bring a configuration over from another gateway (gema, litellm)"),
  Command.withSubcommands([sub("gema"), sub("litellm")]),
)
