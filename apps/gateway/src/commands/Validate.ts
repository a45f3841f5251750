/** `sluice validate --config FILE`: check a config (schema, references, provider types, middleware) and exit. */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"

export const command = Command.make(
  "validate",
  { config: Options.file("config").pipe(Options.withDescription("YAML config file")) },
  (args) =>
    Effect.flatMap(
      Effect.promise(() => import("./ValidateRun.ts")),
      (m) => m.run(args),
    ),
).pipe(Command.withDescription("Check a config file; exit non-zero naming every bad key"))
