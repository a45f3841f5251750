/** `sluice routes --config FILE --model X`: where model X goes — rule, targets, fallbacks, retry, timeouts. */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"

export const command = Command.make(
  "routes",
  {
    config: Options.file("config").pipe(Options.withDescription("YAML config file"), Options.optional),
    model: Options.text("model").pipe(Options.withDescription("the model id a client would send")),
  },
  (args) =>
    Effect.flatMap(
      Effect.promise(() => import("./RoutesRun.ts")),
      (m) => m.run(args),
    ),
).pipe(Command.withDescription("Print where a model id is routed"))
