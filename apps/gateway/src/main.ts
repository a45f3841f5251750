import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { CliFailure, run } from "./Cli.ts"

run(process.argv).pipe(
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
