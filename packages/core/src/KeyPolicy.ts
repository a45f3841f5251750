/**
 * A virtual key's policy, typed. Each middleware package owns fields of a key — `rateLimit`
 * (@sluice/ratelimit), `budget` (budgets), `guardrails` (@sluice/guardrails), or a third-party
 * plugin's — and contributes a `Field` for each: its name, its Schema, and the typed accessor
 * the middleware reads it with. Auth decodes a key's fields once, when the key is loaded (config
 * keys when a generation is built, stored keys the first time a generation sees the record), and
 * the principal carries the decoded values; the middleware never parses them again:
 *
 * ```ts
 * export const keyPolicy = KeyPolicy.field("rateLimit", RateLimitPolicy, { owner: "ratelimit" })
 * const own = keyPolicy.get(request.ctx.principal) // RateLimitPolicy | undefined
 * ```
 *
 * A plugin lists its fields in `Plugin.keyPolicy`; the gateway gives auth the fields of the
 * middleware it installs (`Decoder`), so a key field nothing enforces is an error naming its path.
 */
import { Context, Either, ParseResult, Schema } from "effect"
import type { ConfigIssue, GatewayConfig } from "./Config.ts"
import type { Principal } from "./Handler.ts"

const ValuesBrand: unique symbol = Symbol.for("@sluice/core/KeyPolicy/Values")

/** A key's decoded policy: field name → decoded value. Read it through the owner's `Field.get`. */
export type Values = Readonly<Record<string, unknown>> & { readonly [ValuesBrand]: true }

/**
 * Values that are already decoded (tests, programmatic principals). The accessors trust them:
 * give each field the type its owner's schema decodes to.
 */
export const unsafeValues = (values: Readonly<Record<string, unknown>>): Values =>
  // The brand is not enumerable: the values print, compare and serialize as a plain record.
  Object.freeze(Object.defineProperty({ ...values }, ValuesBrand, { value: true })) as Values

/** No policy at all. */
export const empty: Values = unsafeValues({})

/** Whether this config can use the field, and the extra rules it sets on a decoded value. */
export type Rules<A> =
  /** Why nothing would enforce the field under this config (e.g. budgets without prices). */
  | { readonly off: string }
  /** A decoded value's problem under this config (e.g. a guardrail policy that does not exist). */
  | { readonly check: (value: A) => ConfigIssue | undefined }

export interface Field<A> {
  readonly name: string
  /** The middleware that enforces it (named in errors). */
  readonly owner: string
  /** How the field is written in a key (config, admin API, store) and what it decodes to. */
  readonly schema: Schema.Schema<A, any, never>
  /** This config's rules for the field; none means it always applies. */
  readonly rules?: ((config: GatewayConfig) => Rules<A> | undefined) | undefined
  /** The principal's decoded value, if its key sets the field. */
  readonly get: (principal: Principal | undefined) => A | undefined
}

export const field = <A, I>(
  name: string,
  schema: Schema.Schema<A, I, never>,
  options: { readonly owner: string; readonly rules?: ((config: GatewayConfig) => Rules<A> | undefined) | undefined },
): Field<A> => ({
  name,
  owner: options.owner,
  schema,
  rules: options.rules,
  get: (principal) => principal?.policy?.[name] as A | undefined,
})

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : `${acc}.${String(k)}`), "")

/**
 * One generation's decoder of key policies: the fields of the middleware it installs, under
 * its config. Paths in issues are relative to the key (`rateLimit.rpm`, `guardrails[1]`).
 */
export interface Decoder {
  /** Every policy field name any loaded plugin owns (a key field that is none of them is unknown). */
  readonly names: ReadonlySet<string>
  /** Decode the policy fields of a key (raw as written; other fields are the caller's business). */
  readonly decode: (raw: Readonly<Record<string, unknown>>) => Either.Either<Values, ReadonlyArray<ConfigIssue>>
  /** The fields written as they are stored (defaults filled in), for a store's record. */
  readonly encode: (values: Values) => Readonly<Record<string, unknown>>
}

interface Entry {
  readonly field: Field<unknown>
  readonly decode: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly encode: (a: unknown) => Either.Either<unknown, ParseResult.ParseError>
  /** Why it is off under this config, or the check it adds. */
  readonly off: string | undefined
  readonly check: ((value: unknown) => ConfigIssue | undefined) | undefined
}

/**
 * The decoder for a generation: `installed` are the fields of the middleware in its pipeline,
 * `known` those of every loaded plugin (a field of one left out of `middleware:` is refused,
 * saying so). A field name claimed twice is a programming error and throws.
 */
export const decoder = (
  config: GatewayConfig | undefined,
  installed: ReadonlyArray<Field<any>>,
  known: ReadonlyArray<Field<any>> = installed,
): Decoder => {
  const entries = new Map<string, Entry>()
  const owners = new Map<string, string>()
  for (const f of [...installed, ...known]) {
    const other = owners.get(f.name)
    if (other !== undefined && other !== f.owner)
      throw new Error(`key policy field "${f.name}" is claimed by both ${other} and ${f.owner}`)
    owners.set(f.name, f.owner)
  }
  const on = new Set(installed)
  for (const f of known) {
    if (on.has(f)) continue
    entries.set(f.name, {
      field: f,
      decode: Schema.decodeUnknownEither(f.schema, { errors: "all", onExcessProperty: "error" }),
      encode: Schema.encodeEither(f.schema),
      off: `"${f.owner}" is not in the middleware: list, so nothing would enforce it`,
      check: undefined,
    })
  }
  for (const f of installed) {
    const rules = config === undefined ? undefined : f.rules?.(config)
    entries.set(f.name, {
      field: f,
      decode: Schema.decodeUnknownEither(f.schema, { errors: "all", onExcessProperty: "error" }),
      encode: Schema.encodeEither(f.schema),
      off: rules !== undefined && "off" in rules ? rules.off : undefined,
      check: rules !== undefined && "check" in rules ? rules.check : undefined,
    })
  }
  const names = new Set(entries.keys())
  const known_ = [...names].sort().join(", ") || "none"

  const decode = (raw: Readonly<Record<string, unknown>>): Either.Either<Values, ReadonlyArray<ConfigIssue>> => {
    const issues: Array<ConfigIssue> = []
    const out: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(raw)) {
      if (value === undefined) continue
      const entry = entries.get(name)
      if (entry === undefined) {
        issues.push({ path: name, message: `not a key policy field (known: ${known_})` })
        continue
      }
      if (entry.off !== undefined) {
        issues.push({ path: name, message: entry.off })
        continue
      }
      const decoded = entry.decode(value)
      if (Either.isLeft(decoded)) {
        for (const i of ParseResult.ArrayFormatter.formatErrorSync(decoded.left))
          if (!i.message.startsWith("Expected undefined, actual"))
            issues.push({ path: `${name}${formatPath(i.path)}`, message: i.message })
        continue
      }
      const problem = entry.check?.(decoded.right)
      if (problem !== undefined) {
        issues.push({ path: problem.path === "" ? name : `${name}${problem.path}`, message: problem.message })
        continue
      }
      out[name] = decoded.right
    }
    return issues.length > 0 ? Either.left(issues) : Either.right(unsafeValues(out))
  }

  const encode = (values: Values): Readonly<Record<string, unknown>> => {
    const out: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(values)) {
      const entry = entries.get(name)
      if (entry === undefined || value === undefined) continue
      out[name] = Either.getOrElse(entry.encode(value), () => value)
    }
    return out
  }

  return { names, decode, encode }
}

/**
 * The decoder of the generation being built, for auth's `fromConfig` (read once, when the
 * generation is built). Outside a gateway build it knows no fields: every policy field is refused.
 */
export class Policies extends Context.Reference<Policies>()("@sluice/core/KeyPolicy/Policies", {
  defaultValue: (): Decoder => decoder(undefined, []),
}) {}
