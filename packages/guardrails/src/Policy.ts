/**
 * The `guardrails:` config section and its compiled form. Policies are named; `global` lists
 * those applied to every request (all of them when omitted), `routes` adds policies by model
 * pattern, and a virtual key adds its own with `policy.guardrails: [names]`. Everything is
 * validated and compiled when the middleware is built: a bad regex or an unknown name fails
 * the start with the path of the bad key.
 */
import { Config, KeyPolicy, Wildcard } from "@sluice/core"
import { Either, Schema } from "effect"
import type * as Custom from "./Custom.ts"
import * as Detectors from "./Detectors.ts"
import * as Normalize from "./Normalize.ts"

const Direction = Schema.Literal("input", "output")
const Name = Schema.String.pipe(
  Schema.pattern(/^[\w.-]+$/, { message: () => "expected a name of letters, digits, _ . -" }),
)

export const PolicyConfig = Schema.Struct({
  /** Which side it inspects; both by default. */
  on: Schema.optionalWith(Schema.Array(Direction), { default: () => ["input", "output"] as const }),
  /** block: fail the request (or end the stream); redact: mask the match and go on. */
  action: Schema.optionalWith(Schema.Literal("block", "redact"), { default: () => "block" as const }),
  /** Keywords match whole words; regexes are case-insensitive. */
  deny: Schema.optional(
    Schema.Struct({
      keywords: Schema.optional(Schema.Array(Schema.NonEmptyTrimmedString)),
      regex: Schema.optional(Schema.Array(Schema.String)),
    }),
  ),
  pii: Schema.optional(Schema.Array(Schema.Literal(...Detectors.piiKinds))),
  maxInputChars: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.positive())),
  /** Estimated at ~4 characters a token, before any tokenizer runs. */
  maxInputTokens: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.positive())),
  /** Inspect tool-call arguments and tool results too (default true). */
  tools: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** A custom check registered in code. */
  custom: Schema.optional(Name),
  /** How long a custom check may take. */
  timeout: Schema.optionalWith(Config.Duration, { default: () => 5_000 }),
  /** What a failing or timed-out check means: block (fail closed, the default) or allow. */
  onError: Schema.optionalWith(Schema.Literal("block", "allow"), { default: () => "block" as const }),
})
export type PolicyConfig = typeof PolicyConfig.Type

export const GuardrailsConfig = Schema.Struct({
  policies: Schema.Record({ key: Name, value: PolicyConfig }),
  global: Schema.optional(Schema.Array(Schema.String)),
  routes: Schema.optional(
    Schema.Array(Schema.Struct({ match: Schema.NonEmptyTrimmedString, policies: Schema.Array(Schema.String) })),
  ),
  /** Characters of streamed output held back so a match split across chunks is still caught. */
  holdBack: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(0, 65_536)), { default: () => 128 }),
  /**
   * The most streamed characters held for one possible match (a private key from its BEGIN
   * line): past it the stream is blocked rather than held without end or released unchecked.
   */
  holdMax: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1_024, 1_048_576)), {
    default: () => 32_768,
  }),
})
export type GuardrailsConfig = typeof GuardrailsConfig.Type
export type GuardrailsConfigInput = typeof GuardrailsConfig.Encoded

export interface Compiled {
  readonly name: string
  readonly input: boolean
  readonly output: boolean
  readonly action: "block" | "redact"
  /** In priority order: the first kind found names the violation. */
  readonly detectors: ReadonlyArray<Detectors.Detector>
  /** The least streamed text to hold back for these detectors (see Detectors.holdFloor). */
  readonly holdFloor: number
  readonly maxInputChars: number | undefined
  readonly maxInputTokens: number | undefined
  readonly tools: boolean
  readonly custom: Custom.Check | undefined
  readonly timeoutMs: number
  readonly failOpen: boolean
}

export interface PolicySet {
  readonly policies: ReadonlyMap<string, Compiled>
  readonly global: ReadonlyArray<Compiled>
  readonly routes: ReadonlyArray<{
    readonly match: (model: string) => boolean
    readonly policies: ReadonlyArray<Compiled>
  }>
  readonly holdBack: number
  readonly holdMax: number
}

const piiOrder: ReadonlyArray<Detectors.PiiKind> = ["secret", "credit_card", "iban", "email", "phone"]

/** Validate references and compile every policy; issues carry full config paths. */
export const compile = (
  config: GuardrailsConfig,
  custom: Custom.Registry,
  prefix = "guardrails",
): Either.Either<PolicySet, Config.ConfigError> => {
  const issues: Array<Config.ConfigIssue> = []
  const policies = new Map<string, Compiled>()
  for (const [name, p] of Object.entries(config.policies)) {
    const at = `${prefix}.policies.${name}`
    const detectors: Array<Detectors.Detector> = []
    let holdFloor = 0
    for (const kind of piiOrder) {
      if (!p.pii?.includes(kind)) continue
      detectors.push(Detectors.detectors[kind])
      holdFloor = Math.max(holdFloor, Detectors.holdFloor[kind] ?? 0)
    }
    if (p.deny?.keywords !== undefined && p.deny.keywords.length > 0)
      // Matched against normalised text, so written in the same normal form.
      detectors.push(Detectors.keywords(p.deny.keywords.map(Normalize.text)))
    p.deny?.regex?.forEach((source, i) => {
      try {
        const re = new RegExp(source, "gi")
        if (re.test("")) issues.push({ path: `${at}.deny.regex[${i}]`, message: "the pattern matches empty text" })
        else detectors.push(Detectors.pattern(re))
      } catch (e) {
        issues.push({ path: `${at}.deny.regex[${i}]`, message: `invalid regular expression: ${(e as Error).message}` })
      }
    })
    let check: Custom.Check | undefined
    if (p.custom !== undefined) {
      check = custom[p.custom]
      if (check === undefined) {
        const known = Object.keys(custom)
        issues.push({
          path: `${at}.custom`,
          message: `no custom guardrail "${p.custom}" is registered (registered: ${known.join(", ") || "none"})`,
        })
      }
    }
    const checksSomething =
      (p.pii?.length ?? 0) > 0 ||
      (p.deny?.keywords?.length ?? 0) > 0 ||
      (p.deny?.regex?.length ?? 0) > 0 ||
      p.custom !== undefined ||
      p.maxInputChars !== undefined ||
      p.maxInputTokens !== undefined
    if (!checksSomething) {
      issues.push({
        path: at,
        message: "the policy checks nothing: give deny, pii, maxInputChars, maxInputTokens or custom",
      })
    }
    policies.set(name, {
      name,
      input: p.on.includes("input"),
      output: p.on.includes("output"),
      action: p.action,
      detectors,
      holdFloor,
      maxInputChars: p.maxInputChars,
      maxInputTokens: p.maxInputTokens,
      tools: p.tools,
      custom: check,
      timeoutMs: p.timeout,
      failOpen: p.onError === "allow",
    })
  }
  const resolve = (names: ReadonlyArray<string>, path: string): Array<Compiled> =>
    names.flatMap((n, i) => {
      const found = policies.get(n)
      if (found === undefined) issues.push({ path: `${path}[${i}]`, message: `unknown policy "${n}"` })
      return found === undefined ? [] : [found]
    })
  const global = config.global === undefined ? [...policies.values()] : resolve(config.global, `${prefix}.global`)
  const routes = (config.routes ?? []).map((r, i) => ({
    match: Wildcard.compile(r.match),
    policies: resolve(r.policies, `${prefix}.routes[${i}].policies`),
  }))
  return issues.length > 0
    ? Either.left(new Config.ConfigError({ issues }))
    : Either.right({ policies, global, routes, holdBack: config.holdBack, holdMax: config.holdMax })
}

const KeyPolicyNames = Schema.Array(Schema.NonEmptyTrimmedString)

/**
 * A key's own policies (`guardrails: [names]`), applied on top of the global and route ones.
 * Decoded by auth when the key is loaded: under a config, each name must be one of its
 * `guardrails.policies` (a key naming one that does not exist is refused, not waved through).
 */
export const keyPolicy = KeyPolicy.field("guardrails", KeyPolicyNames, {
  owner: "guardrails",
  rules: (config): KeyPolicy.Rules<ReadonlyArray<string>> => {
    const section = config.guardrails as { readonly policies?: unknown } | undefined
    if (section === undefined) return { off: "there is no guardrails: section, so nothing would enforce it" }
    const policies = section.policies
    const names = new Set(typeof policies === "object" && policies !== null ? Object.keys(policies) : [])
    return {
      check: (value) => {
        const i = value.findIndex((n) => !names.has(n))
        return i === -1
          ? undefined
          : {
              path: `[${i}]`,
              message: `unknown policy "${value[i]}" (guardrails.policies: ${[...names].join(", ") || "none"})`,
            }
      },
    }
  },
})
