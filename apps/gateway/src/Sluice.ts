/**
 * The `sluice` binary as a function, so an app can ship its own with its own plugins:
 *
 *   import { Sluice } from "@sluice/gateway"
 *   Sluice.main({ plugins: [myPlugin] })
 *
 * Its plugins are known to every command (their config sections, their middleware), like the
 * built-ins; a config's own `plugins:` list adds more at start.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect } from "effect"
import { CliFailure, run as runCli } from "./Cli.ts"
import * as Extensions from "./Extensions.ts"

/** Plugins and provider types besides the built-ins (see Extensions). */
export type MainOptions = Extensions.Extensions

/**
 * Run the CLI on `argv` with these extensions. The built-in modules load only when a command
 * assembles a gateway (`Modules.current`), so `--help` reads none of the packages.
 */
export const run = (argv: ReadonlyArray<string>, options: MainOptions = {}) =>
  runCli(argv).pipe(Effect.provideService(Extensions.Current, options))

/** Run the CLI on `process.argv` and exit: a CliFailure prints its message and exits 1. */
export const main = (options: MainOptions = {}): void =>
  run(process.argv, options).pipe(
    Effect.catchAll((e) =>
      e instanceof CliFailure
        ? Effect.zipRight(
            Console.error(e.message),
            Effect.sync(() => {
              process.exitCode = 1
            }),
          )
        : Effect.fail(e),
    ),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({ disableErrorReporting: false }),
  )
