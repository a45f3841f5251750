/**
 * The cache key: a SHA-256 of the canonical request as the upstream would see it. Two requests
 * share an entry when they name the same deployments and carry the same messages, tools and
 * parameters, whichever wire format they arrived in. Fields that do not change the answer
 * (`stream`, the end-user id, metadata, the model alias the client used) are left out.
 */
import { createHash } from "node:crypto"
import type { Router } from "@sluice/core"
import type { ChatRequest } from "@sluice/schema"

/** JSON with object keys sorted and undefined members dropped, so equal values hash equally. */
export const stableJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : stableJson(v))).join(",")}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`
}

/** The deployments a resolution may call, in order: what "the model as resolved" means here. */
export const resolvedModel = (resolution: Router.Resolution): ReadonlyArray<ReadonlyArray<string>> =>
  resolution.candidates.map((c) => c.deployments.map((d) => `${d.provider}/${d.model}`).sort())

/** The parts of a request that decide the answer. */
export const canonical = (chat: ChatRequest): Record<string, unknown> => {
  const { model: _model, stream: _stream, user: _user, metadata: _metadata, ...rest } = chat
  return rest
}

export interface KeyInput {
  /** A key id, a credential hash or a namespace: entries never cross scopes. */
  readonly scope: string
  readonly resolution: Router.Resolution
  readonly chat: ChatRequest
  /** Anything else that changes what the caller may be answered (their guardrail policies). */
  readonly policy?: unknown
}

export const of = (input: KeyInput): string =>
  createHash("sha256")
    .update(
      stableJson({
        v: 1,
        scope: input.scope,
        model: resolvedModel(input.resolution),
        request: canonical(input.chat),
        policy: input.policy,
      }),
    )
    .digest("hex")
