/**
 * Apply policies to whole values: a request's input (messages, tool-call arguments, tool
 * results, embedding inputs) and a complete response. Returns the value with redactions, or
 * fails with the first GuardrailViolation.
 */
import type { GatewayRequest } from "@sluice/core"
import type { ChatRequest, ChatResponse, Errors, Message, Part, Parts } from "@sluice/schema"
import { Effect } from "effect"
import type { Compiled } from "./Policy.ts"
import * as Scan from "./Scan.ts"

type Outcome<A> = { readonly value: A; readonly changed: boolean }

/** Redact/block one string; `changed` tells the caller whether to rebuild its container. */
export class Inspector {
  error: Errors.GuardrailViolation | undefined
  changed = false
  /** Characters of input as the client sent them (size limits). */
  chars = 0
  /** Text seen (after masking), for custom checks and size limits. */
  readonly seen: Array<string> = []
  constructor(
    readonly direction: Scan.Direction,
    readonly plain: ReadonlyArray<Compiled>,
    readonly tools: ReadonlyArray<Compiled>,
  ) {}

  text(value: string, tool = false): string {
    if (this.error !== undefined) return value
    this.chars += value.length
    const r = Scan.text(tool ? this.tools : this.plain, this.direction, value)
    if (r._tag === "Blocked") this.error = r.error
    else if (r._tag === "Redacted") {
      this.changed = true
      // Custom checks (often remote) see the masked text, never what was redacted.
      this.seen.push(r.text)
      return r.text
    }
    this.seen.push(value)
    return value
  }

  /** Tool-call arguments: redact inside JSON string values so the arguments stay valid JSON. */
  json(args: string): string {
    let parsed: unknown
    try {
      parsed = JSON.parse(args)
    } catch {
      return this.text(args, true)
    }
    const before = this.changed
    this.changed = false
    const walked = this.walk(parsed)
    const changed = this.changed
    this.changed = before || changed
    return changed ? JSON.stringify(walked) : args
  }

  walk(v: unknown): unknown {
    if (typeof v === "string") return this.text(v, true)
    if (Array.isArray(v)) return v.map((x) => this.walk(x))
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) out[k] = this.walk(x)
      return out
    }
    return v
  }

  part(p: Part): Part {
    switch (p.type) {
      case "text": {
        const t = this.text(p.text)
        return t === p.text ? p : { ...p, text: t }
      }
      case "reasoning": {
        const t = this.text(p.text)
        return t === p.text ? p : { ...p, text: t }
      }
      case "tool_call": {
        if (this.tools.length === 0) return p
        const a = this.json(p.arguments)
        return a === p.arguments ? p : { ...p, arguments: a }
      }
      case "tool_result": {
        if (this.tools.length === 0) return p
        let changed = false
        const content = p.content.map((c) => {
          if (c.type !== "text") return c
          const t = this.text(c.text, true)
          if (t === c.text) return c
          changed = true
          return { ...c, text: t } satisfies Parts.TextPart
        })
        const structured = p.structured === undefined ? undefined : this.walk(p.structured)
        const structuredChanged =
          structured !== undefined && JSON.stringify(structured) !== JSON.stringify(p.structured)
        if (!changed && !structuredChanged) return p
        return { ...p, content, ...(structured !== undefined ? { structured } : {}) }
      }
      case "image":
        return p
    }
  }

  parts(parts: ReadonlyArray<Part>): Outcome<ReadonlyArray<Part>> {
    let changed = false
    const out = parts.map((p) => {
      const q = this.part(p)
      if (q !== p) changed = true
      return q
    })
    return { value: changed ? out : parts, changed }
  }
}

const forDirection = (policies: ReadonlyArray<Compiled>, direction: Scan.Direction) =>
  policies.filter((p) => (direction === "input" ? p.input : p.output))

const sizeCheck = (policies: ReadonlyArray<Compiled>, chars: number) => {
  for (const p of policies) {
    if (p.maxInputChars !== undefined && chars > p.maxInputChars)
      return Scan.violation(p.name, "input", `the input has ${chars} characters; the limit is ${p.maxInputChars}`)
    const tokens = Math.ceil(chars / 4)
    if (p.maxInputTokens !== undefined && tokens > p.maxInputTokens)
      return Scan.violation(p.name, "input", `the input has about ${tokens} tokens; the limit is ${p.maxInputTokens}`)
  }
  return undefined
}

const runCustom = (
  policies: ReadonlyArray<Compiled>,
  direction: Scan.Direction,
  text: string,
  request: GatewayRequest,
): Effect.Effect<void, Errors.GuardrailViolation> => {
  const checks = policies.filter((p) => p.custom !== undefined)
  if (checks.length === 0) return Effect.void
  return Effect.forEach(checks, (p) => Scan.custom(p, { text, direction, request }), {
    concurrency: "unbounded",
    discard: true,
  })
}

/** The request with input policies applied. */
export const input = (
  request: GatewayRequest,
  all: ReadonlyArray<Compiled>,
): Effect.Effect<GatewayRequest, Errors.GuardrailViolation> => {
  const policies = forDirection(all, "input")
  if (policies.length === 0) return Effect.succeed(request)
  const inspector = new Inspector(
    "input",
    policies,
    policies.filter((p) => p.tools),
  )
  let next: GatewayRequest = request
  switch (request._tag) {
    case "Chat":
    case "CountTokens": {
      let changed = false
      const messages = request.chat.messages.map((m): Message => {
        const r = inspector.parts(m.parts)
        if (!r.changed) return m
        changed = true
        return { ...m, parts: r.value }
      })
      if (changed) next = { ...request, chat: { ...request.chat, messages } satisfies ChatRequest }
      break
    }
    case "Embed": {
      const inputs = request.embed.inputs.map((t) => inspector.text(t))
      if (inspector.changed) next = { ...request, embed: { ...request.embed, inputs } }
      break
    }
    case "ListModels":
      return Effect.succeed(request)
  }
  if (inspector.error !== undefined) return Effect.fail(inspector.error)
  const tooBig = sizeCheck(policies, inspector.chars)
  if (tooBig !== undefined) return Effect.fail(tooBig)
  return Effect.as(runCustom(policies, "input", inspector.seen.join("\n"), request), next)
}

/** A complete chat answer with output policies applied. */
export const output = (
  response: ChatResponse,
  all: ReadonlyArray<Compiled>,
  request: GatewayRequest,
): Effect.Effect<ChatResponse, Errors.GuardrailViolation> => {
  const policies = forDirection(all, "output")
  if (policies.length === 0) return Effect.succeed(response)
  const inspector = new Inspector(
    "output",
    policies,
    policies.filter((p) => p.tools),
  )
  const r = inspector.parts(response.parts)
  if (inspector.error !== undefined) return Effect.fail(inspector.error)
  const next = r.changed ? { ...response, parts: r.value } : response
  return Effect.as(runCustom(policies, "output", inspector.seen.join("\n"), request), next)
}

export { forDirection }
