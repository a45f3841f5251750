/**
 * The gateway config: YAML → `${ENV}` interpolation → Schema decode. Every error names the path
 * of the bad key (`providers.openai.baseUrl: expected a URL`). Sections owned by middleware
 * packages (keys, rateLimit, tracing, guardrails, …) are kept as raw values here and decoded by
 * their package with `decodeSection`, so those packages own their schemas.
 */
import { Data, Either, ParseResult, Schema } from "effect"
import * as YAML from "yaml"
import { Params as RouteParams } from "./RouteParams.ts"

export interface ConfigIssue {
  readonly path: string
  readonly message: string
}

export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly issues: ReadonlyArray<ConfigIssue> }> {
  override get message(): string {
    return this.issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("\n")
  }
}

// ---- scalar types -------------------------------------------------------------------------

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds from `250ms`, `2s`, `5m`, `1h`, `30d`, or a plain number of ms. */
export const parseDuration = (s: string): number | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(s)
  return m ? Number(m[1]) * durationUnits[m[2]!]! : undefined
}

export const Duration = Schema.Union(
  Schema.Number.pipe(Schema.nonNegative()),
  Schema.transformOrFail(Schema.String, Schema.Number, {
    strict: true,
    decode: (s, _, ast) => {
      const ms = parseDuration(s)
      return ms === undefined
        ? ParseResult.fail(new ParseResult.Type(ast, s, `expected a duration like 500ms, 2s or 5m, got "${s}"`))
        : ParseResult.succeed(ms)
    },
    encode: (n) => ParseResult.succeed(`${n}ms`),
  }),
).annotations({ identifier: "Duration" })

const sizeUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

export const parseSize = (s: string): number | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(s)
  return m ? Math.floor(Number(m[1]) * sizeUnits[(m[2] ?? "b").toLowerCase()]!) : undefined
}

export const ByteSize = Schema.Union(
  Schema.Number.pipe(Schema.int(), Schema.positive()),
  Schema.transformOrFail(Schema.String, Schema.Number, {
    strict: true,
    decode: (s, _, ast) => {
      const n = parseSize(s)
      return n === undefined
        ? ParseResult.fail(new ParseResult.Type(ast, s, `expected a size like 512kb or 10mb, got "${s}"`))
        : ParseResult.succeed(n)
    },
    encode: (n) => ParseResult.succeed(`${n}b`),
  }),
).annotations({ identifier: "ByteSize" })

const isUrl = (s: string) => {
  try {
    const u = new URL(s)
    return u.protocol === "http:" || u.protocol === "https:"
  } catch {
    return false
  }
}

export const Url = Schema.String.pipe(Schema.filter((s) => isUrl(s) || "expected a URL"))

const Secret = Schema.Redacted(Schema.String)

// ---- sections ---------------------------------------------------------------------------

export const ServerConfig = Schema.Struct({
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(0, 65535)), { default: () => 8787 }),
  bodyLimit: Schema.optionalWith(ByteSize, { default: () => 10 * 1024 * 1024 }),
  /** How long SIGTERM waits for in-flight requests before closing their connections. */
  shutdownTimeout: Schema.optionalWith(Duration, { default: () => 10_000 }),
  /** How long a response may wait on a client that stopped reading before its connection is closed. */
  writeStallTimeout: Schema.optionalWith(Duration, { default: () => 60_000 }),
  /** Terminate TLS (HTTPS and wss://) with these PEM files. */
  tls: Schema.optional(Schema.Struct({ cert: Schema.NonEmptyTrimmedString, key: Schema.NonEmptyTrimmedString })),
})
export type ServerConfig = typeof ServerConfig.Type

export const ProviderConfig = Schema.Struct({
  /** A ProviderType name: openai, anthropic, gemini, deepseek, xai, ollama, openai-compatible, mock, … */
  type: Schema.NonEmptyTrimmedString,
  apiKey: Schema.optional(Secret),
  baseUrl: Schema.optional(Url),
  /** Extra headers sent upstream on every call. */
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** Let a client's own provider key through instead of the configured one (off by default). */
  passthrough: Schema.optional(Schema.Boolean),
  /** Upstream models to list for this provider (as `name/model`). */
  models: Schema.optional(Schema.Array(Schema.String)),
  /** Type-specific options, read by the provider package. */
  options: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
})
export type ProviderConfig = typeof ProviderConfig.Type

export const Deployment = Schema.Struct({
  provider: Schema.NonEmptyTrimmedString,
  model: Schema.NonEmptyTrimmedString,
  apiKey: Schema.optional(Secret),
  weight: Schema.optional(Schema.Number.pipe(Schema.positive())),
})
export type Deployment = typeof Deployment.Type

/** A public model id: one provider+model, or several weighted deployments. */
export const ModelEntry = Schema.Struct({
  provider: Schema.optional(Schema.NonEmptyTrimmedString),
  model: Schema.optional(Schema.NonEmptyTrimmedString),
  apiKey: Schema.optional(Secret),
  deployments: Schema.optional(Schema.NonEmptyArray(Deployment)),
  displayName: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  inputTokenLimit: Schema.optional(Schema.Number),
  outputTokenLimit: Schema.optional(Schema.Number),
  /** Generation defaults for this model; the client's own values override them. */
  params: Schema.optional(RouteParams),
  /** Generation parameters forced over the client's. */
  forceParams: Schema.optional(RouteParams),
}).pipe(
  Schema.filter((m) =>
    (m.deployments !== undefined) !== (m.provider !== undefined && m.model !== undefined)
      ? true
      : "give either provider and model, or deployments",
  ),
)
export type ModelEntry = typeof ModelEntry.Type

export const RetryConfig = Schema.Struct({
  attempts: Schema.Number.pipe(Schema.int(), Schema.between(1, 10)),
  backoff: Schema.optionalWith(Duration, { default: () => 200 }),
  maxBackoff: Schema.optional(Duration),
})

export const TimeoutConfig = Schema.Struct({
  connect: Schema.optional(Duration),
  firstByte: Schema.optional(Duration),
  total: Schema.optional(Duration),
})

export const CircuitBreakerConfig = Schema.Struct({
  /** Consecutive failures that open a deployment's circuit. */
  failures: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.positive()), { default: () => 5 }),
  /** How long an open deployment is skipped before one trial request. */
  cooldown: Schema.optionalWith(Duration, { default: () => 30_000 }),
})

/** Defaults for every model; a `routes:` rule's retry/timeout override them. */
export const ResilienceConfig = Schema.Struct({
  retry: Schema.optionalWith(
    Schema.Struct({
      attempts: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 10)), { default: () => 1 }),
      backoff: Schema.optionalWith(Duration, { default: () => 200 }),
      maxBackoff: Schema.optionalWith(Duration, { default: () => 5_000 }),
      /** All attempts of one request, waits included, end within this. */
      budget: Schema.optionalWith(Duration, { default: () => 60_000 }),
    }),
    { default: () => ({ attempts: 1, backoff: 200, maxBackoff: 5_000, budget: 60_000 }) },
  ),
  timeout: Schema.optionalWith(TimeoutConfig, { default: () => ({}) }),
  circuitBreaker: Schema.optionalWith(CircuitBreakerConfig, { default: () => ({ failures: 5, cooldown: 30_000 }) }),
})
export type ResilienceConfig = typeof ResilienceConfig.Type

export const RouteRule = Schema.Struct({
  /** A model id pattern; `*` matches any run of characters, anywhere. */
  match: Schema.NonEmptyTrimmedString,
  /** A `models:` id or `provider/model`. */
  to: Schema.NonEmptyTrimmedString,
  fallbacks: Schema.optional(Schema.Array(Schema.NonEmptyTrimmedString)),
  retry: Schema.optional(RetryConfig),
  timeout: Schema.optional(TimeoutConfig),
  /** Generation defaults for what this rule routes (over the model's); the client's values win. */
  params: Schema.optional(RouteParams),
  /** Generation parameters this rule forces over the client's (and the model's). */
  forceParams: Schema.optional(RouteParams),
})
export type RouteRule = typeof RouteRule.Type

/**
 * The top-level sections core itself reads. Every other section belongs to a plugin, which
 * declares it with its schema (`Middleware.Plugin.sections`); the assembling app passes the
 * known names to `parse`/`fromObject`, so an unknown key is still an error naming it.
 */
export const coreSections: ReadonlyArray<string> = [
  "server",
  "providers",
  "models",
  "routes",
  "resilience",
  "middleware",
  "plugins",
]

export const GatewayConfig = Schema.Struct(
  {
    server: Schema.optionalWith(ServerConfig, { default: () => Schema.decodeSync(ServerConfig)({}) }),
    providers: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ProviderConfig }), {
      default: () => ({}),
    }),
    models: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ModelEntry }), { default: () => ({}) }),
    routes: Schema.optionalWith(Schema.Array(RouteRule), { default: () => [] }),
    resilience: Schema.optionalWith(ResilienceConfig, { default: () => Schema.decodeSync(ResilienceConfig)({}) }),
    /** Middleware names, outermost first (read by the assembling app). */
    middleware: Schema.optional(Schema.Unknown),
    /** Plugins to load at start: module paths (relative to the config file) or package names. */
    plugins: Schema.optional(Schema.Array(Schema.NonEmptyTrimmedString)),
  },
  // Plugin sections: kept raw here, decoded by the plugin that declares them.
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)
export type GatewayConfig = typeof GatewayConfig.Type
export type GatewayConfigInput = typeof GatewayConfig.Encoded

// ---- decoding -------------------------------------------------------------------------------

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`),
    "",
  )

const joinPath = (prefix: string, path: string) =>
  prefix === "" ? path : path === "" ? prefix : path.startsWith("[") ? `${prefix}${path}` : `${prefix}.${path}`

/** Decode a value with a schema; issues carry full paths below `prefix`. */
export const decodeSection = <A, I>(
  schema: Schema.Schema<A, I>,
  value: unknown,
  prefix = "",
): Either.Either<A, ConfigError> =>
  Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })(value).pipe(
    Either.mapLeft(
      (error) =>
        new ConfigError({
          issues: ParseResult.ArrayFormatter.formatErrorSync(error)
            // An optional field's "or undefined" alternative adds nothing to the real issue.
            .filter((i) => !i.message.startsWith("Expected undefined, actual"))
            .map((i) => ({ path: joinPath(prefix, formatPath(i.path)), message: i.message })),
        }),
    ),
  )

const envRef = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** Replace `${VAR}` / `${VAR:-default}` in every string; `$${` escapes a literal `${`. */
export const interpolate = (
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path = "",
  issues: Array<ConfigIssue> = [],
): { value: unknown; issues: Array<ConfigIssue> } => {
  const walk = (v: unknown, p: string): unknown => {
    if (typeof v === "string") {
      return v.replace(envRef, (whole, name: string | undefined, fallback: string | undefined) => {
        if (name === undefined) return "${"
        const found = env[name]
        if (found !== undefined && found !== "") return found
        if (fallback !== undefined) return fallback
        issues.push({ path: p, message: `environment variable ${name} is not set` })
        return whole
      })
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${p}[${i}]`))
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, joinPath(p, k))]))
    }
    return v
  }
  return { value: walk(value, path), issues }
}

export interface ParseOptions {
  /**
   * Top-level sections besides `coreSections` (those of the loaded plugins, with their schemas
   * when they have one). When given, any other top-level key is an error naming it, and each
   * present section is validated by its schema.
   */
  readonly sections?: ReadonlyMap<string, ReadonlyArray<Schema.Schema<any, any, never>>> | undefined
}

/** Parse YAML text into a validated config. */
export const parse = (
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  options: ParseOptions = {},
): Either.Either<GatewayConfig, ConfigError> => {
  const doc = YAML.parseDocument(text, { prettyErrors: true })
  if (doc.errors.length > 0) {
    return Either.left(
      new ConfigError({
        issues: doc.errors.map((e) => {
          const pos = e.linePos?.[0]
          return {
            path: "",
            message: `invalid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ""}: ${e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}`,
          }
        }),
      }),
    )
  }
  const raw = doc.toJS() ?? {}
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return Either.left(new ConfigError({ issues: [{ path: "", message: "the config must be a YAML mapping" }] }))
  }
  return fromObject(raw, env, options)
}

/** YAML text → its top-level `plugins:` list, before plugins are loaded (their sections unknown yet). */
export const pluginsOf = (text: string): Either.Either<ReadonlyArray<string>, ConfigError> => {
  let raw: unknown
  try {
    raw = YAML.parse(text)
  } catch {
    return Either.right([])
  }
  const list = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>).plugins : undefined
  return list === undefined
    ? Either.right([])
    : decodeSection(Schema.Array(Schema.NonEmptyTrimmedString), list, "plugins")
}

/** Every top-level key must be core's or a known plugin section, and each section must decode. */
export const checkSections = (
  config: GatewayConfig,
  sections: ReadonlyMap<string, ReadonlyArray<Schema.Schema<any, any, never>>>,
): Either.Either<GatewayConfig, ConfigError> => {
  const issues: Array<ConfigIssue> = []
  const core = new Set(coreSections)
  for (const [key, value] of Object.entries(config)) {
    if (core.has(key) || value === undefined) continue
    const schemas = sections.get(key)
    if (schemas === undefined) {
      const known = [...core, ...sections.keys()].sort().join(", ")
      issues.push({ path: key, message: `unknown section (known: ${known})` })
      continue
    }
    for (const schema of schemas) {
      const r = decodeSection(schema, value, key)
      if (Either.isLeft(r)) issues.push(...r.left.issues)
    }
  }
  // The same issue from two plugins sharing a section (redis:) is reported once.
  const unique = [...new Map(issues.map((i) => [`${i.path}\u0000${i.message}`, i])).values()]
  return unique.length > 0 ? Either.left(new ConfigError({ issues: unique })) : Either.right(config)
}

/** Validate an already-parsed config object (after `${ENV}` interpolation). */
export const fromObject = (
  raw: unknown,
  env: Readonly<Record<string, string | undefined>>,
  options: ParseOptions = {},
): Either.Either<GatewayConfig, ConfigError> => {
  const { value, issues } = interpolate(raw, env)
  if (issues.length > 0) return Either.left(new ConfigError({ issues }))
  const sections = options.sections
  return decodeSection(GatewayConfig, value).pipe(
    Either.flatMap((config) => (sections === undefined ? Either.right(config) : checkSections(config, sections))),
    Either.flatMap((config) => checkReferences(config)),
  )
}

/** Cross-references a schema cannot see: models and routes must name configured providers. */
const checkReferences = (config: GatewayConfig): Either.Either<GatewayConfig, ConfigError> => {
  const issues: Array<ConfigIssue> = []
  const providers = new Set(Object.keys(config.providers))
  for (const [id, entry] of Object.entries(config.models)) {
    if (entry.provider !== undefined && !providers.has(entry.provider)) {
      issues.push({ path: `models.${id}.provider`, message: `unknown provider "${entry.provider}"` })
    }
    entry.deployments?.forEach((d, i) => {
      if (!providers.has(d.provider)) {
        issues.push({ path: `models.${id}.deployments[${i}].provider`, message: `unknown provider "${d.provider}"` })
      }
    })
  }
  const target = (t: string) => t in config.models || (t.includes("/") && providers.has(t.slice(0, t.indexOf("/"))))
  config.routes.forEach((r, i) => {
    if (!target(r.to))
      issues.push({ path: `routes[${i}].to`, message: `"${r.to}" is neither a models: id nor provider/model` })
    r.fallbacks?.forEach((f, j) => {
      if (!target(f))
        issues.push({
          path: `routes[${i}].fallbacks[${j}]`,
          message: `"${f}" is neither a models: id nor provider/model`,
        })
    })
  })
  return issues.length > 0 ? Either.left(new ConfigError({ issues })) : Either.right(config)
}

/** The environment variable that enables each provider in the default config. */
export const defaultProviderKeys: ReadonlyArray<readonly [name: string, type: string, env: string]> = [
  ["openai", "openai", "OPENAI_API_KEY"],
  ["anthropic", "anthropic", "ANTHROPIC_API_KEY"],
  ["gemini", "gemini", "GEMINI_API_KEY"],
  ["deepseek", "deepseek", "DEEPSEEK_API_KEY"],
  ["xai", "xai", "XAI_API_KEY"],
]

/** The config used when no file is given: the mock model plus every provider with a key in env. */
export const defaults = (env: Readonly<Record<string, string | undefined>>): GatewayConfig => {
  const providers: Record<string, unknown> = { mock: { type: "mock" } }
  for (const [name, type, variable] of defaultProviderKeys) {
    if (env[variable]) providers[name] = { type, apiKey: `\${${variable}}` }
  }
  const result = fromObject({ providers, models: { mock: { provider: "mock", model: "mock" } } }, env)
  if (Either.isLeft(result)) throw new Error(`default config is invalid: ${result.left.message}`)
  return result.right
}
