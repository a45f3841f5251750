/**
 * `sluice start [--config FILE] [--host H] [--port N] [--workers N]`: serve until SIGTERM/SIGINT (graceful
 * drain); with a config file, reload it on SIGHUP or when the file changes. The server itself
 * (./StartRun.ts) is loaded when the command runs.
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"

export const command = Command.make(
  "start",
  {
    config: Options.file("config").pipe(Options.withDescription("YAML config file"), Options.optional),
    host: Options.text("host").pipe(
      Options.withDescription("listen address (overrides server.host)"),
      Options.optional,
    ),
    port: Options.integer("port").pipe(
      Options.withDescription("listen port (overrides server.port)"),
      Options.optional,
    ),
    workers: Options.integer("workers").pipe(
      Options.withDescription("worker processes sharing the port (node:cluster); use Redis stores to share state"),
      Options.optional,
    ),
  },
  (args) =>
    Effect.flatMap(
      Effect.promise(() => import("./StartRun.ts")),
      (m) => m.run(args),
    ),
).pipe(Command.withDescription("Start the gateway"))
