/**
 * The `sluice` command line: start, validate (and more subcommands from later packages).
 */
import * as Fs from "node:fs"
import { Command, Options } from "@effect/cli"
import { HttpServer } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, Either, Layer, Option } from "effect"
import type { Config } from "@sluice/core"
import { NodeServer } from "@sluice/server"
import * as Assemble from "./Assemble.ts"

const env = process.env

/** Exit non-zero with a message, never a stack trace. */
class CliFailure extends Error {}

const readConfig = (file: Option.Option<string>): Effect.Effect<Config.GatewayConfig, CliFailure> =>
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

const configOption = Options.file("config").pipe(Options.withDescription("YAML config file"), Options.optional)

const start = Command.make(
  "start",
  {
    config: configOption,
    host: Options.text("host").pipe(
      Options.withDescription("listen address (overrides server.host)"),
      Options.optional,
    ),
    port: Options.integer("port").pipe(
      Options.withDescription("listen port (overrides server.port)"),
      Options.optional,
    ),
  },
  ({ config: file, host, port }) =>
    Effect.gen(function* () {
      const loaded = yield* readConfig(file)
      const config: Config.GatewayConfig = {
        ...loaded,
        server: {
          ...loaded.server,
          host: Option.getOrElse(host, () => loaded.server.host),
          port: Option.getOrElse(port, () => loaded.server.port),
        },
      }
      const serve = Layer.unwrapScoped(
        Effect.gen(function* () {
          const assembled = yield* Assemble.build(config).pipe(
            Effect.mapError((e) => new CliFailure(`invalid config:\n${e.message}`)),
          )
          return NodeServer.layer(assembled.app, {
            host: config.server.host,
            port: config.server.port,
            shutdownTimeout: config.server.shutdownTimeout,
          }).pipe(
            Layer.tap((ctx) => {
              const address = ctx.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer
              const where =
                address.address._tag === "TcpAddress"
                  ? `http://${address.address.hostname}:${address.address.port}`
                  : address.address.path
              return Console.log(
                `sluice listening on ${where} (providers: ${Object.keys(config.providers).join(", ") || "none"}; middleware: ${assembled.middleware.join(" → ") || "none"})`,
              )
            }),
          )
        }),
      )
      return yield* Layer.launch(serve).pipe(Effect.provide(NodeHttpClient.layerUndici))
    }),
).pipe(Command.withDescription("Start the gateway"))

const validate = Command.make(
  "validate",
  { config: Options.file("config").pipe(Options.withDescription("YAML config file")) },
  ({ config: file }) =>
    Effect.gen(function* () {
      const config = yield* readConfig(Option.some(file))
      yield* Effect.scoped(Assemble.build(config)).pipe(
        Effect.provide(NodeHttpClient.layerUndici),
        Effect.mapError((e) => new CliFailure(`invalid config ${file}:\n${e.message}`)),
      )
      yield* Console.log(
        `${file}: ok (${Object.keys(config.providers).length} providers, ${Object.keys(config.models).length} models, ${config.routes.length} routes)`,
      )
    }),
).pipe(Command.withDescription("Check a config file and exit non-zero naming every bad key"))

export const commands = [start, validate] as const

export const root = Command.make("sluice").pipe(
  Command.withDescription("Sluice LLM gateway"),
  Command.withSubcommands([start, validate]),
)

export const run = Command.run(root, { name: "sluice", version: "0.1.0" })

export { CliFailure }
