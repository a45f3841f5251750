/** What `sluice import` runs (loaded when the command runs, not for `--help`). */
import * as Fs from "node:fs"
import { Console, Effect, Either, Logger, LogLevel, Option } from "effect"
import * as YAML from "yaml"
import { Config, Upstream } from "@sluice/core"
import * as Assemble from "../Assemble.ts"
import * as Gema from "../import/Gema.ts"
import { ImportError, type Imported } from "../import/Imported.ts"
import * as Litellm from "../import/Litellm.ts"
import { CliFailure } from "./CliFailure.ts"
import { type Source, sources } from "./Import.ts"

const converters = { gema: Gema.convert, litellm: Litellm.convert } as const satisfies Record<Source, unknown>

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
      try: () => converters[source](text, file),
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
      `Imported from ${file} (${sources[source]}) by \`sluice import ${source}\`.`,
      ...(imported.report.length > 0
        ? ["", "Not carried over, or changed:", ...imported.report.map((r) => `- ${r}`)]
        : []),
    ]
    const doc = new YAML.Document(imported.config)
    doc.commentBefore = header.map((l) => (l === "" ? "" : ` ${l}`)).join("\n")
    return { ...imported, yaml: doc.toString({ lineWidth: 0 }) }
  })

export const run = (
  source: Source,
  { file, output }: { readonly file: string; readonly output: Option.Option<string> },
) =>
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
  })
