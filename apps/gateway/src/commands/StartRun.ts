/**
 * What `sluice start` runs (loaded when the command runs, not for `--help`): serve until
 * SIGTERM/SIGINT (graceful drain); with a config file, reload it on SIGHUP or when the file changes.
 */
import * as Cluster from "node:cluster"
import * as Fs from "node:fs"
import { HttpServer } from "@effect/platform"
import { Console, Effect, Either, Layer, Option, Runtime } from "effect"
import { type Config, Upstream } from "@sluice/core"
import { NodeServer } from "@sluice/server"
import * as Assemble from "../Assemble.ts"
import * as Reloader from "../Reloader.ts"
import * as ConfigFile from "./ConfigFile.ts"

const overrides = (
  config: Config.GatewayConfig,
  host: Option.Option<string>,
  port: Option.Option<number>,
): Config.GatewayConfig => ({
  ...config,
  server: {
    ...config.server,
    host: Option.getOrElse(host, () => config.server.host),
    port: Option.getOrElse(port, () => config.server.port),
  },
})

/** The certificate and key files, read at start. */
const readTls = (tls: { readonly cert: string; readonly key: string }) => ({
  cert: Fs.readFileSync(tls.cert),
  key: Fs.readFileSync(tls.key),
})

/**
 * After a reload, the certificate files are read again (renewed certificates, or new paths); a
 * change between HTTP and HTTPS needs a restart.
 */
const reloadTls = (served: boolean, config: Config.GatewayConfig, updates: NodeServer.TlsUpdates) =>
  Effect.gen(function* () {
    const files = config.server.tls
    if ((files !== undefined) !== served) {
      return yield* Console.error(
        `server.tls ${files === undefined ? "was removed" : "was added"}: restart the gateway to change between HTTP and HTTPS`,
      )
    }
    if (files === undefined) return
    yield* Effect.try({
      try: () => updates.update(readTls(files)),
      catch: (e) => (e as NodeJS.ErrnoException).code ?? "the certificate and key do not load",
    }).pipe(
      Effect.flatMap(() => Console.log("server.tls: certificate reloaded")),
      Effect.catchAll((why) =>
        Console.error(`server.tls: keeping the previous certificate (${String(why).slice(0, 80)})`),
      ),
    )
  })

/** Watch the file and SIGHUP; each trigger re-reads, validates and swaps the config. */
const watchReloads = (
  file: string,
  reload: (loaded: ConfigFile.Loaded) => Effect.Effect<Either.Either<unknown, Config.ConfigError>>,
  adjust: (loaded: ConfigFile.Loaded) => ConfigFile.Loaded,
  afterReload: (config: Config.GatewayConfig) => Effect.Effect<void>,
) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const run = Runtime.runFork(runtime)
    let timer: NodeJS.Timeout | undefined
    const trigger = (why: string) => {
      clearTimeout(timer)
      // Editors write files in bursts: wait for the last write.
      timer = setTimeout(
        () =>
          run(
            ConfigFile.load(Option.some(file)).pipe(
              Effect.map(adjust),
              Effect.flatMap((loaded) =>
                Effect.flatMap(reload(loaded), (result) =>
                  Either.isLeft(result)
                    ? Console.error(
                        `config reload (${why}) rejected, still serving the previous config:\n${result.left.message}`,
                      )
                    : Effect.zipRight(Console.log(`config reloaded (${why})`), afterReload(loaded.config)),
                ),
              ),
              Effect.catchAll((e) =>
                Console.error(`config reload (${why}) rejected, still serving the previous config:\n${e.message}`),
              ),
            ),
          ),
        200,
      )
    }
    const onHup = () => trigger("SIGHUP")
    process.on("SIGHUP", onHup)
    const watcher = Fs.watch(file, () => trigger("file changed"))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        process.off("SIGHUP", onHup)
        watcher.close()
        clearTimeout(timer)
      }),
    )
  })

/**
 * `--workers N`: this process forks N workers (node:cluster) that each run the gateway on the
 * shared listening socket, and waits. SIGTERM/SIGINT reach every worker (each drains and exits);
 * a worker that dies is replaced. State that must be shared (keys, rate limits, budgets) needs
 * the Redis stores: each worker keeps its own memory ones.
 */
const supervise = (count: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const cluster = Cluster.default
    let stopping = false
    const live = new Set<Cluster.Worker>()
    const fork = () => {
      const worker = cluster.fork()
      live.add(worker)
      worker.on("exit", (code, signal) => {
        live.delete(worker)
        if (stopping) {
          if (live.size === 0) resume(Effect.void)
          return
        }
        console.error(`sluice: worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
        fork()
      })
    }
    for (let i = 0; i < count; i++) fork()
    console.log(`sluice: ${count} workers (primary ${process.pid})`)
    return Effect.async<void>((done) => {
      stopping = true
      if (live.size === 0) return done(Effect.void)
      for (const w of live) {
        w.on("exit", () => live.size === 0 && done(Effect.void))
        w.process.kill("SIGTERM")
      }
    })
  })

export const run = ({
  config: file,
  host,
  port,
  workers,
}: {
  readonly config: Option.Option<string>
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly workers: Option.Option<number>
}) =>
  Effect.gen(function* () {
    const adjust = (l: ConfigFile.Loaded): ConfigFile.Loaded => ({ ...l, config: overrides(l.config, host, port) })
    const loaded = adjust(yield* ConfigFile.load(file))
    const config = loaded.config
    if (Option.isSome(workers) && Cluster.default.isPrimary) {
      if (workers.value < 1 || workers.value > 256)
        return yield* Effect.fail(new ConfigFile.CliFailure("--workers must be between 1 and 256"))
      // The config was read and checked here, so a bad one fails before any worker starts.
      return yield* supervise(workers.value)
    }
    const serve = Layer.unwrapScoped(
      Effect.gen(function* () {
        const reloader = yield* Reloader.make(loaded, (l: ConfigFile.Loaded, memoMap) =>
          Assemble.build(l.config, { memoMap, modules: l.modules }),
        ).pipe(Effect.mapError((e) => new ConfigFile.CliFailure(`invalid config:\n${e.message}`)))
        const files = config.server.tls
        const tlsUpdates = new NodeServer.TlsUpdates()
        if (Option.isSome(file))
          yield* watchReloads(file.value, reloader.reload, adjust, (next) =>
            reloadTls(files !== undefined, next, tlsUpdates),
          )
        const assembled = reloader.current()
        const tls =
          files === undefined
            ? undefined
            : yield* Effect.try({
                try: () => readTls(files),
                catch: (e) =>
                  new ConfigFile.CliFailure(
                    `cannot read server.tls files: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
                  ),
              })
        return NodeServer.layer(reloader.app, {
          host: config.server.host,
          port: config.server.port,
          shutdownTimeout: config.server.shutdownTimeout,
          writeStallTimeout: config.server.writeStallTimeout,
          tls,
          tlsUpdates,
          // Sessions start on the current generation and keep it.
          upgrade: (req, socket, head) => reloader.current().upgrade(req, socket, head),
        }).pipe(
          Layer.tap((ctx) => {
            const server = ctx.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer
            const where =
              server.address._tag === "TcpAddress"
                ? `${config.server.tls === undefined ? "http" : "https"}://${server.address.hostname}:${server.address.port}`
                : server.address.path
            return Console.log(
              `sluice listening on ${where} (providers: ${Object.keys(config.providers).join(", ") || "none"}; middleware: ${assembled.middleware.join(" → ") || "none"})`,
            )
          }),
        )
      }),
    )
    return yield* Layer.launch(serve).pipe(Effect.provide(Upstream.layer))
  })
