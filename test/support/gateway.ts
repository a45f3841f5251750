/**
 * Start a whole gateway in-process, from a config object as it would appear in YAML, on a free
 * loopback port — for end-to-end tests with the official SDKs.
 */
import { Effect, Either, Exit, Layer, Scope } from "effect"
import { Assemble } from "@sluice/gateway"
import { Config, Upstream } from "@sluice/core"
import { NodeServer } from "@sluice/server"

export interface RunningGateway {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly assembled: Assemble.Assembled
  readonly close: () => Promise<void>
}

export const startGateway = async (
  config: Record<string, unknown>,
  env: Record<string, string | undefined> = {},
  options: { readonly tls?: { readonly cert: string; readonly key: string } } = {},
): Promise<RunningGateway> => {
  const parsed = Config.fromObject(config, env)
  if (Either.isLeft(parsed)) throw new Error(parsed.left.message)
  const scope = Effect.runSync(Scope.make())
  const program = Effect.gen(function* () {
    const assembled = yield* Assemble.build(parsed.right)
    const server = yield* NodeServer.make(assembled.app, {
      host: "127.0.0.1",
      port: 0,
      shutdownTimeout: 2_000,
      upgrade: assembled.upgrade,
      tls: options.tls,
    })
    const address = server.address
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    return { assembled, port: address.port }
    // extendScope: the HTTP client lives as long as the gateway, not just its start-up.
  }).pipe(Effect.provide(Layer.extendScope(Upstream.layer)), Scope.extend(scope))
  const { assembled, port } = await Effect.runPromise(program)
  return {
    url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    port,
    assembled,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}
