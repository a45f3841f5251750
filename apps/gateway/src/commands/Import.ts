/**
 * `sluice import gema config.toml` / `sluice import litellm config.yaml [--output sluice.yaml]`:
 * turn a peer gateway's config into a Sluice config that routes the same models the same way.
 * The YAML goes to stdout (or --output), the report of what has no equivalent to stderr; the
 * result is validated as `sluice validate` would, with unset `${ENV}` references stood in for.
 */
import * as Fs from "node:fs"
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Logger, LogLevel, Option } from "effect"
import * as YAML from "yaml"
import { Config, Upstream } from "@sluice/core"
import * as Assemble from "../Assemble.ts"
import * as Gema from "../import/Gema.ts"
import { ImportError, type Imported } from "../import/Imported.ts"
import * as Litellm from "../import/Litellm.ts"
import { CliFailure } from "./ConfigFile.ts"

const sources = {
  gema: { convert: Gema.convert, what: "gema (api-for-gemini) config.toml" },
  litellm: { convert: Litellm.convert, what: "LiteLLM proxy config.yaml" },
} as const
export type Source = keyof typeof sources

/** Every `${NAME}` the config refers to, so validation can stand in for unset ones. */
const referencedEnv = (value: unknown, into = new Set<string>()): Set<string> => {
  if (typeof value === "string") for (const m of value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) into.add(m[1]!)
  else if (Array.isArray(value)) for (const v of value) referencedEnv(v, into)
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) referencedEnv(v, into)
  return into
}

/** Convert a source file's text; validation errors name the generated config's keys. */
export const importText = (
  source: Source,
  text: string,
  file: string,
): Effect.Effect<Imported & { readonly yaml: string }, CliFailure> =>
  Effect.gen(function* () {
    const imported = yield* Effect.try({
      try: () => sources[source].convert(text, file),
      catch: (e) => new CliFailure(e instanceof ImportError ? e.message : `${file}: ${String(e)}`),
    })
    const env: Record<string, string> = {}
    for (const name of referencedEnv(imported.config)) env[name] = process.env[name] || "unset-variable-placeholder"
    const parsed = Config.fromObject(imported.config, env)
    if (Either.isLeft(parsed))
      return yield* Effect.fail(new CliFailure(`the imported config does not validate:\n${parsed.left.message}`))
    yield* Effect.scoped(Assemble.build(parsed.right)).pipe(
      // Building only to validate: the start-up notices (open gateway, …) are not for this command.
      Logger.withMinimumLogLevel(LogLevel.Error),
      Effect.provide(Upstream.layer),
      Effect.mapError((e) => new CliFailure(`the imported config does not validate:\n${e.message}`)),
    )
    const header = [
      `Imported from ${file} (${sources[source].what}) by \`sluice import ${source}\`.`,
      ...(imported.report.length > 0
        ? ["", "Not carried over, or changed:", ...imported.report.map((r) => `- ${r}`)]
        : []),
    ]
    const doc = new YAML.Document(imported.config)
    doc.commentBefore = header.map((l) => (l === "" ? "" : ` ${l}`)).join("\n")
    return { ...imported, yaml: doc.toString({ lineWidth: 0 }) }
  })

const sub = (source: Source) =>
  Command.make(
    source,
    {
      file: Args.file({ name: "file", exists: "yes" }).pipe(Args.withDescription(`the ${sources[source].what}`)),
      output: Options.file("output").pipe(
        Options.withAlias("o"),
        Options.withDescription("write the Sluice YAML here instead of stdout"),
        Options.optional,
      ),
    },
    ({ file, output }) =>
      Effect.gen(function* () {
        const text = yield* Effect.try({
          try: () => Fs.readFileSync(file, "utf8"),
          catch: (e) => new CliFailure(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`),
        })
        const result = yield* importText(source, text, file)
        if (Option.isSome(output)) {
          yield* Effect.try({
            try: () => Fs.writeFileSync(output.value, result.yaml),
            catch: (e) => new CliFailure(`cannot write ${output.value}: ${String(e)}`),
          })
        } else {
          yield* Console.log(result.yaml.trimEnd())
        }
        for (const line of result.report) yield* Console.error(`note: ${line}`)
        if (Option.isSome(output))
          yield* Console.error(`wrote ${output.value}; check it with: sluice validate --config ${output.value}`)
      }),
  ).pipe(Command.withDescription(`Convert a ${sources[source].what} into a Sluice config`))

export const command = Command.make("import").pipe(
  Command.withDescription("Bring a configuration over from another gateway (gema, litellm)"),
  Command.withSubcommands([sub("gema"), sub("litellm")]),
)
