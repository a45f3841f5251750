/**
 * `sluice setup gemini-cli [--url URL] [--key KEY] [--global|--local] [--config FILE]`: what a
 * user needs to point Gemini CLI at this gateway, printed, or written where the CLI reads it —
 * the user's ~/.gemini (`--global`; `--write` is the same) or the project's ./.gemini (`--local`):
 * `.env` for the variables, `settings.json` for the auth type and a SessionStart hook that runs
 * `sluice context`, which starts Sluice in the background when nothing answers on its port.
 *
 * Why settings.json too: Gemini CLI 0.61 switches to its `gateway` auth type whenever
 * GOOGLE_GEMINI_BASE_URL is set, and then refuses to run non-interactively ("Invalid auth method
 * selected."). Selecting `gemini-api-key` keeps the base URL and sends GEMINI_API_KEY as
 * x-goog-api-key, which is where Sluice's Gemini ingress reads a virtual key.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { CliFailure } from "./commands/CliFailure.ts"

export const defaultUrl = "http://127.0.0.1:8787"
/** Any value works when the gateway has no virtual keys; the CLI insists on a non-empty one. */
export const placeholderKey = "sluice"

export interface Setup {
  readonly env: Readonly<Record<string, string>>
  readonly settings: { readonly security: { readonly auth: { readonly selectedType: "gemini-api-key" } } }
}

export const setupFor = (url: string, key: string | undefined): Setup => ({
  env: { GOOGLE_GEMINI_BASE_URL: url.replace(/\/+$/, ""), GEMINI_API_KEY: key ?? placeholderKey },
  settings: { security: { auth: { selectedType: "gemini-api-key" } } },
})

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/** The instructions, for a user to copy. */
export const render = (setup: Setup, keyGiven: boolean): string =>
  [
    `# Point Gemini CLI at Sluice (${setup.env.GOOGLE_GEMINI_BASE_URL})`,
    "",
    "# 1. Environment (your shell profile, or ~/.gemini/.env without the `export`):",
    ...Object.entries(setup.env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    ...(keyGiven ? [] : ["#    (GEMINI_API_KEY: your Sluice virtual key; any value if the gateway has no keys)"]),
    "",
    "# 2. ~/.gemini/settings.json — select API-key auth, so the CLI uses the base URL above:",
    JSON.stringify(setup.settings, null, 2),
    "",
    "# 3. Run it with a model id this gateway routes, e.g.:",
    `#    gemini -m gemini-2.5-pro -p "hello"`,
    "# (or run `sluice setup gemini-cli --global`, or `--local` for this project, to write steps 1 and 2 for you)",
  ].join("\n")

/** Upsert KEY=VALUE lines in a .env text, keeping every other line. */
export const upsertEnv = (text: string, vars: Readonly<Record<string, string>>): string => {
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n")
  const seen = new Set<string>()
  const out = lines.map((line) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)
    const key = m?.[1]
    if (key !== undefined && key in vars) {
      seen.add(key)
      return `${key}=${vars[key]}`
    }
    return line
  })
  for (const [k, v] of Object.entries(vars)) if (!seen.has(k)) out.push(`${k}=${v}`)
  return `${out.join("\n")}\n`
}

/** The name of the SessionStart hook this command writes (and replaces on a second run). */
export const hookName = "sluice-autostart"

const record = (u: unknown): Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Record<string, unknown>) : {}

/** The command line the hook runs: this very `sluice`, asked to make sure the gateway answers. */
export const hookCommand = (url: string, config: string | undefined): string =>
  [
    process.execPath,
    Path.resolve(process.argv[1] ?? "sluice"),
    "context",
    "--url",
    url.replace(/\/+$/, ""),
    ...(config !== undefined ? ["--config", Path.resolve(config)] : []),
  ]
    .map(shellQuote)
    .join(" ")

/**
 * Merge the auth selection (and, when given, the SessionStart hook) into an existing
 * settings.json object, keeping everything else — other hooks included.
 */
export const mergeSettings = (existing: unknown, setup: Setup, hook?: string): Record<string, unknown> => {
  const obj = record(existing)
  const security = record(obj.security)
  const auth = record(security.auth)
  const merged: Record<string, unknown> = {
    ...obj,
    security: { ...security, auth: { ...auth, selectedType: setup.settings.security.auth.selectedType } },
  }
  if (hook === undefined) return merged
  const hooks = record(obj.hooks)
  const ours = (group: unknown) =>
    Array.isArray(record(group).hooks) &&
    (record(group).hooks as Array<unknown>).some((h) => record(h).name === hookName)
  const sessionStart = (Array.isArray(hooks.SessionStart) ? hooks.SessionStart : []).filter((g) => !ours(g))
  sessionStart.push({ matcher: "*", hooks: [{ name: hookName, type: "command", command: hook, timeout: 60_000 }] })
  return { ...merged, hooks: { ...hooks, SessionStart: sessionStart } }
}

/**
 * Write `.env` and `settings.json` into a Gemini CLI settings folder (`~/.gemini` or a project's
 * `.gemini`). An existing GEMINI_API_KEY is kept unless a key was given. Returns the files written.
 */
export const writeDir = (dir: string, url: string, key: string | undefined, hook?: string): ReadonlyArray<string> => {
  Fs.mkdirSync(dir, { recursive: true })
  const envFile = Path.join(dir, ".env")
  const settingsFile = Path.join(dir, "settings.json")
  const envText = Fs.existsSync(envFile) ? Fs.readFileSync(envFile, "utf8") : ""
  const setup = setupFor(url, key)
  const vars: Record<string, string> = { GOOGLE_GEMINI_BASE_URL: setup.env.GOOGLE_GEMINI_BASE_URL! }
  if (key !== undefined || !/^\s*(?:export\s+)?GEMINI_API_KEY\s*=/m.test(envText))
    vars.GEMINI_API_KEY = setup.env.GEMINI_API_KEY!
  Fs.writeFileSync(envFile, upsertEnv(envText, vars), { mode: 0o600 })
  let existing: unknown = {}
  if (Fs.existsSync(settingsFile)) {
    try {
      existing = JSON.parse(Fs.readFileSync(settingsFile, "utf8"))
    } catch {
      throw new CliFailure(`${settingsFile} is not valid JSON; fix or remove it and run again`)
    }
  }
  Fs.writeFileSync(settingsFile, `${JSON.stringify(mergeSettings(existing, setup, hook), null, 2)}\n`)
  return [envFile, settingsFile]
}

/** Write ~/.gemini/.env and ~/.gemini/settings.json under `home` (no hook). */
export const write = (home: string, url: string, key: string | undefined): ReadonlyArray<string> =>
  writeDir(Path.join(home, ".gemini"), url, key)

export const geminiCli = Command.make(
  "gemini-cli",
  {
    url: Options.text("url").pipe(Options.withDescription("the gateway's base URL"), Options.withDefault(defaultUrl)),
    key: Options.text("key").pipe(Options.withDescription("a Sluice virtual key for GEMINI_API_KEY"), Options.optional),
    global: Options.boolean("global").pipe(
      Options.withAlias("g"),
      Options.withDescription("write ~/.gemini/.env and ~/.gemini/settings.json (with the auto-start hook)"),
    ),
    local: Options.boolean("local").pipe(
      Options.withAlias("l"),
      Options.withDescription("write this project's .gemini/.env and .gemini/settings.json (with the auto-start hook)"),
    ),
    write: Options.boolean("write").pipe(Options.withDescription("the same as --global, without the hook")),
    config: Options.file("config").pipe(
      Options.withDescription("the config the auto-started gateway runs (default: built-in defaults)"),
      Options.optional,
    ),
  },
  ({ url, key, global, local, write: doWrite, config }) =>
    Effect.suspend(() => {
      try {
        const parsed = new URL(url)
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("protocol")
      } catch {
        return Effect.fail(new CliFailure(`--url must be an http(s) URL, got "${url.slice(0, 200)}"`))
      }
      if (global && local) return Effect.fail(new CliFailure("give either --global or --local, not both"))
      const k = Option.getOrUndefined(key)
      if (!global && !local && !doWrite) return Console.log(render(setupFor(url, k), k !== undefined))
      const dir = local ? Path.resolve(".gemini") : Path.join(Os.homedir(), ".gemini")
      const hook = global || local ? hookCommand(url, Option.getOrUndefined(config)) : undefined
      return Effect.try({
        try: () => writeDir(dir, url, k, hook),
        catch: (e) =>
          e instanceof CliFailure ? e : new CliFailure(`could not write the Gemini CLI settings: ${String(e)}`),
      }).pipe(
        Effect.flatMap((files) =>
          Console.log(
            [
              `wrote ${files.join(" and ")}: Gemini CLI now talks to ${url.replace(/\/+$/, "")}`,
              ...(hook !== undefined
                ? ["a SessionStart hook starts Sluice in the background when nothing answers there"]
                : []),
              `try: gemini -m <a model this gateway routes> -p "hello"`,
            ].join("\n"),
          ),
        ),
      )
    }),
).pipe(Command.withDescription("Point Gemini CLI at this gateway (print the settings, or write them)"))

/** `sluice setup …`: client setup helpers. */
export const setup = Command.make("setup").pipe(
  Command.withDescription("Point a client tool at this gateway"),
  Command.withSubcommands([geminiCli]),
)
