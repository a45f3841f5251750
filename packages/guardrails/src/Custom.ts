/**
 * Custom guardrails: a check written in code (a moderation API, a classifier) registered by
 * name and referenced from a policy's `custom:`. The check returns an Effect; if it fails or
 * exceeds the policy's timeout the policy's `onError` decides (block unless told otherwise).
 */
import type { GatewayRequest } from "@sluice/core"
import type { Effect } from "effect"

export interface CheckInput {
  /** The text under inspection: the whole input, or one segment of output before release. */
  readonly text: string
  readonly direction: "input" | "output"
  readonly request: GatewayRequest
}

export type Verdict = { readonly _tag: "Allow" } | { readonly _tag: "Block"; readonly reason?: string | undefined }

export const allow: Verdict = { _tag: "Allow" }
/** `reason` reaches the client: say what kind of content, never quote it. */
export const block = (reason?: string): Verdict => ({ _tag: "Block", reason })

export type Check = (input: CheckInput) => Effect.Effect<Verdict, unknown>

export type Registry = Readonly<Record<string, Check>>
