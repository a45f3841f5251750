/**
 * `sluice context --url URL [--config FILE]`: what Gemini CLI's SessionStart hook runs (written by
 * `sluice setup gemini-cli --local|--global`). If something answers `GET /status` at URL it does
 * nothing; otherwise, for a loopback URL, it starts `sluice start` detached in the background on
 * that port and waits until it answers, so the session's first request finds the gateway.
 * It prints one JSON object on stdout (the hook protocol) and always exits 0: a gateway that
 * cannot be started must not stop the CLI session, whose own requests then say why.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Option, Schedule } from "effect"
import { defaultUrl } from "../SetupGeminiCli.ts"

const loopback = new Set(["127.0.0.1", "localhost", "[::1]", "::1"])

/** One `GET /status`, answered 200 within a second. */
export const answering = (url: string): Effect.Effect<boolean> =>
  Effect.tryPromise(() => fetch(`${url}/status`, { signal: AbortSignal.timeout(1_000) })).pipe(
    Effect.map((r) => r.ok),
    Effect.orElseSucceed(() => false),
  )

/** Start `sluice start` detached: its own session, output to a log file, nothing tied to the hook's pipes. */
const startDetached = (url: URL, config: string | undefined): string => {
  const log = Path.join(Os.tmpdir(), `sluice-${url.port || "80"}.log`)
  const out = Fs.openSync(log, "a")
  const host = url.hostname.replace(/^\[|\]$/g, "")
  const child = spawn(
    process.execPath,
    [
      Path.resolve(process.argv[1] ?? "sluice"),
      "start",
      "--host",
      host === "localhost" ? "127.0.0.1" : host,
      "--port",
      url.port || "80",
      ...(config !== undefined ? ["--config", config] : []),
    ],
    { detached: true, stdio: ["ignore", out, out], env: process.env },
  )
  child.unref()
  Fs.closeSync(out)
  // Beside the log, so whoever started it through the hook can find it to stop it.
  if (child.pid !== undefined)
    Fs.writeFileSync(Path.join(Os.tmpdir(), `sluice-${url.port || "80"}.pid`), `${child.pid}\n`)
  return log
}

export const run = (url: string, config: string | undefined, wait: Duration.Duration) =>
  Effect.gen(function* () {
    const base = url.replace(/\/+$/, "")
    let parsed: URL
    try {
      parsed = new URL(base)
    } catch {
      return { systemMessage: `sluice: --url is not a URL: ${base.slice(0, 200)}` }
    }
    if (yield* answering(base)) return {}
    if (!loopback.has(parsed.hostname))
      return { systemMessage: `sluice: nothing answers at ${base}, and only a local gateway can be started from here` }
    if (config !== undefined && !Fs.existsSync(config))
      return { systemMessage: `sluice: cannot start the gateway: config ${config.slice(0, 200)} does not exist` }
    const log = startDetached(parsed, config)
    const up = yield* answering(base).pipe(
      Effect.filterOrFail((ok) => ok),
      Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo(wait))),
      Effect.orElseSucceed(() => false),
    )
    return {
      systemMessage: up
        ? `sluice: started the gateway on ${base} (log: ${log})`
        : `sluice: started the gateway, but it does not answer at ${base} yet (log: ${log})`,
    }
  })

export const command = Command.make(
  "context",
  {
    url: Options.text("url").pipe(Options.withDescription("the gateway's base URL"), Options.withDefault(defaultUrl)),
    config: Options.file("config").pipe(Options.withDescription("the config to start it with"), Options.optional),
    wait: Options.integer("wait").pipe(
      Options.withDescription("seconds to wait for a started gateway to answer"),
      Options.withDefault(40),
    ),
  },
  ({ url, config, wait }) =>
    run(url, Option.getOrUndefined(config), Duration.seconds(wait)).pipe(
      Effect.flatMap((out) => Console.log(JSON.stringify(out))),
    ),
).pipe(Command.withDescription("Make sure the gateway answers (Gemini CLI's SessionStart hook runs this)"))
