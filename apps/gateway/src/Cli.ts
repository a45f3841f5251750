/** The `sluice` command line. Each subcommand lives in ./commands. */
import { Command } from "@effect/cli"
import * as Context from "./commands/Context.ts"
import * as Import from "./commands/Import.ts"
import * as Init from "./commands/Init.ts"
import * as Routes from "./commands/Routes.ts"
import * as Start from "./commands/Start.ts"
import * as Validate from "./commands/Validate.ts"
import * as SetupGeminiCli from "./SetupGeminiCli.ts"

export { CliFailure } from "./commands/CliFailure.ts"

export const root = Command.make("sluice").pipe(
  Command.withDescription("Sluice LLM gateway"),
  Command.withSubcommands([
    Start.command,
    Validate.command,
    Init.command,
    Routes.command,
    SetupGeminiCli.setup,
    Import.command,
    Context.command,
  ]),
)

export const run = Command.run(root, { name: "sluice", version: "0.1.0" })
