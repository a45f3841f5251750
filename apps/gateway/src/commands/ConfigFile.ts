/** Reading the config file for a command: every failure is a message, never a stack trace. */
import * as Fs from "node:fs"
import { Effect, Either, Option } from "effect"
import type { Config } from "@sluice/core"
import * as Assemble from "../Assemble.ts"

/** A failure the CLI prints as is before exiting non-zero. */
export class CliFailure extends Error {}

export const read = (
  file: Option.Option<string>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Effect.Effect<Config.GatewayConfig, CliFailure> =>
  Effect.suspend(() => {
    let text: string | undefined
    if (Option.isSome(file)) {
      try {
        text = Fs.readFileSync(file.value, "utf8")
      } catch (e) {
        return Effect.fail(
          new CliFailure(`cannot read config file ${file.value}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`),
        )
      }
    }
    const result = Assemble.loadConfig(text, env)
    return Either.isLeft(result)
      ? Effect.fail(
          new CliFailure(`invalid config${Option.isSome(file) ? ` ${file.value}` : ""}:\n${result.left.message}`),
        )
      : Effect.succeed(result.right)
  })
