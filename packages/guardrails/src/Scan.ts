/**
 * Run compiled policies over one piece of text: the first blocking match wins (named by its
 * policy and kind, never its text); redacting matches are masked in place.
 */
import { Cause, Effect } from "effect"
import { Errors } from "@sluice/schema"
import type * as Custom from "./Custom.ts"
import * as Detectors from "./Detectors.ts"
import * as Normalize from "./Normalize.ts"
import type { Compiled } from "./Policy.ts"

export type Direction = "input" | "output"

const labels: Readonly<Record<string, string>> = {
  email: "an email address",
  phone: "a phone number",
  credit_card: "a credit card number",
  iban: "an IBAN",
  secret: "an API key or secret",
  keyword: "a denied keyword",
  pattern: "denied content",
}

const where = (d: Direction) => (d === "input" ? "Request" : "Response")

export const violation = (policy: string, direction: Direction, what: string): Errors.GuardrailViolation =>
  new Errors.GuardrailViolation({
    policy,
    message: `${where(direction)} blocked by guardrail policy "${policy}": ${what}`,
  })

export const found = (policy: string, direction: Direction, kind: string) =>
  violation(policy, direction, `${labels[kind] ?? kind} found in the ${direction === "input" ? "input" : "output"}`)

export type Result =
  | { readonly _tag: "Clean" }
  | { readonly _tag: "Redacted"; readonly text: string }
  | { readonly _tag: "Blocked"; readonly error: Errors.GuardrailViolation }

const clean: Result = { _tag: "Clean" }

/** Check `text` against `policies` (already filtered for direction and tool scope). */
export const text = (policies: ReadonlyArray<Compiled>, direction: Direction, value: string): Result => {
  if (value.length === 0) return clean
  let redactions: Array<Detectors.Match> | undefined
  const normalized = Normalize.normalize(value)
  for (const p of policies) {
    for (const detect of p.detectors) {
      const matches = Normalize.detect(detect, normalized)
      if (matches.length === 0) continue
      if (p.action === "block") return { _tag: "Blocked", error: found(p.name, direction, matches[0]!.kind) }
      redactions ??= []
      for (const m of matches) redactions.push(m)
    }
  }
  return redactions === undefined ? clean : { _tag: "Redacted", text: Detectors.mask(value, redactions) }
}

/** Every match a set of redacting policies finds (for the stream guard's cut points). */
export const matches = (policies: ReadonlyArray<Compiled>, value: string): Array<Detectors.Match> => {
  const out: Array<Detectors.Match> = []
  const normalized = Normalize.normalize(value)
  for (const p of policies)
    for (const detect of p.detectors) for (const m of Normalize.detect(detect, normalized)) out.push(m)
  return out
}

/** The first match of a blocking policy in `value` (normalised), if any. */
export const firstBlock = (
  policies: ReadonlyArray<Compiled>,
  value: string,
): { readonly policy: string; readonly kind: string } | undefined => {
  let normalized: Normalize.Normalized | undefined
  for (const p of policies) {
    if (p.action !== "block") continue
    for (const detect of p.detectors) {
      normalized ??= Normalize.normalize(value)
      const m = detect(normalized.text)
      if (m.length > 0) return { policy: p.name, kind: m[0]!.kind }
    }
  }
  return undefined
}

/** Run one policy's custom check with its timeout; errors and timeouts follow `onError`. */
export const custom = (policy: Compiled, input: Custom.CheckInput): Effect.Effect<void, Errors.GuardrailViolation> => {
  const check = policy.custom
  if (check === undefined) return Effect.void
  const failed = policy.failOpen
    ? Effect.void
    : Effect.fail(violation(policy.name, input.direction, "the check could not complete, so the content was blocked"))
  return Effect.suspend(() => check(input)).pipe(
    Effect.timeoutFail({ duration: policy.timeoutMs, onTimeout: () => "timeout" as const }),
    Effect.matchCauseEffect({
      onFailure: (cause) => (Cause.isInterruptedOnly(cause) ? Effect.failCause(cause as never) : failed),
      onSuccess: (verdict) =>
        verdict._tag === "Allow"
          ? Effect.void
          : Effect.fail(violation(policy.name, input.direction, verdict.reason ?? "content not allowed")),
    }),
  )
}
