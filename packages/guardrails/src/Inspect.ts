/**
 * Apply policies to whole values: a request's input and a complete response. Returns the value
 * with redactions, or fails with the first GuardrailViolation.
 *
 * Every field of the request that reaches an upstream is inspected, not only the messages: a
 * message's `name`, tool definitions (name, description, every string of the parameters
 * schema — enums, defaults, property names), tool choice, tool-call ids and names, image URLs,
 * `stop`, `user`, `metadata`, the `response_format` schema and the wire extras passed through
 * to providers. Tool calls and results follow the policy's `tools` switch; the rest is input
 * like the messages. Size limits and custom checks see the message content only.
 */
import type { GatewayRequest } from "@sluice/core"
import type { Chat, ChatRequest, ChatResponse, Errors, Message, Part, Parts } from "@sluice/schema"
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

  /** Every string of a JSON value, object keys included (they reach the upstream too). */
  walk(v: unknown, tool = true): unknown {
    if (typeof v === "string") return this.text(v, tool)
    if (Array.isArray(v)) return v.map((x) => this.walk(x, tool))
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) out[this.text(k, tool)] = this.walk(x, tool)
      return out
    }
    return v
  }

  /** A JSON value, rebuilt only when something in it was redacted. */
  value<A>(v: A, tool: boolean): A {
    const before = this.changed
    this.changed = false
    const walked = this.walk(v, tool)
    const changed = this.changed
    this.changed = before || changed
    return changed ? (walked as A) : v
  }

  optional(v: string | undefined, tool = false): string | undefined {
    return v === undefined ? undefined : this.text(v, tool)
  }

  /** Fields that are not conversation content: inspected, but not counted for size or custom checks. */
  aside<A>(f: () => A): A {
    const chars = this.chars
    const seen = this.seen.length
    const out = f()
    this.chars = chars
    this.seen.length = seen
    return out
  }

  private media(source: Parts.MediaSource): Parts.MediaSource {
    if (source.kind !== "url") return source
    const url = this.aside(() => this.text(source.url))
    return url === source.url ? source : { ...source, url }
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
        const [id, name] = this.aside(() => [this.text(p.id, true), this.text(p.name, true)])
        return a === p.arguments && id === p.id && name === p.name ? p : { ...p, id, name, arguments: a }
      }
      case "tool_result": {
        if (this.tools.length === 0) return p
        let changed = false
        const content = p.content.map((c): Parts.TextPart | Parts.ImagePart => {
          if (c.type === "image") {
            const source = this.media(c.source)
            if (source === c.source) return c
            changed = true
            return { ...c, source }
          }
          const t = this.text(c.text, true)
          if (t === c.text) return c
          changed = true
          return { ...c, text: t } satisfies Parts.TextPart
        })
        const structured = p.structured === undefined ? undefined : this.value(p.structured, true)
        const [id, name] = this.aside(() => [this.text(p.id, true), this.text(p.name, true)])
        if (!changed && structured === p.structured && id === p.id && name === p.name) return p
        return { ...p, id, name, content, ...(structured !== undefined ? { structured } : {}) }
      }
      case "image": {
        const source = this.media(p.source)
        return source === p.source ? p : { ...p, source }
      }
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

/** Every upstream-bound field of a chat request other than the message parts. */
const chatFields = (inspector: Inspector, chat: ChatRequest): ChatRequest =>
  inspector.aside((): ChatRequest => {
    const changedBefore = inspector.changed
    inspector.changed = false
    const tools = chat.tools?.map((t) => {
      const name = inspector.text(t.name)
      const description = inspector.optional(t.description)
      const parameters = t.parameters === undefined ? undefined : inspector.value(t.parameters, false)
      return name === t.name && description === t.description && parameters === t.parameters
        ? t
        : {
            ...t,
            name,
            ...(description !== undefined ? { description } : {}),
            ...(parameters !== undefined ? { parameters } : {}),
          }
    })
    const allowed = chat.toolChoice?.allowed?.map((n) => inspector.text(n))
    const stop = chat.stop?.map((x) => inspector.text(x))
    const user = inspector.optional(chat.user)
    const metadata = chat.metadata === undefined ? undefined : inspector.value(chat.metadata, false)
    const rf = chat.responseFormat
    const responseFormat =
      rf?.type === "json_schema"
        ? (() => {
            const name = inspector.optional(rf.name)
            const schema = inspector.value(rf.schema, false)
            return name === rf.name && schema === rf.schema
              ? rf
              : { ...rf, schema, ...(name !== undefined ? { name } : {}) }
          })()
        : rf
    const extras = chat.extras === undefined ? undefined : inspector.value<Chat.WireExtras>(chat.extras, false)
    const changed = inspector.changed
    inspector.changed = changedBefore || changed
    if (!changed) return chat
    return {
      ...chat,
      ...(tools !== undefined ? { tools } : {}),
      ...(chat.toolChoice !== undefined && allowed !== undefined
        ? { toolChoice: { ...chat.toolChoice, allowed } }
        : {}),
      ...(stop !== undefined ? { stop } : {}),
      ...(user !== undefined ? { user } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
      ...(responseFormat !== undefined ? { responseFormat } : {}),
      ...(extras !== undefined ? { extras } : {}),
    }
  })

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
        const name = m.name === undefined ? undefined : inspector.aside(() => inspector.text(m.name!))
        if (!r.changed && name === m.name) return m
        changed = true
        return { ...m, parts: r.value, ...(name !== undefined ? { name } : {}) }
      })
      const chat = chatFields(inspector, request.chat)
      if (changed || chat !== request.chat) next = { ...request, chat: { ...chat, messages } satisfies ChatRequest }
      break
    }
    case "Embed": {
      const inputs = request.embed.inputs.map((t) => inspector.text(t))
      const extras = request.embed.extras
      const walked = extras === undefined ? undefined : inspector.aside(() => inspector.value(extras, false))
      if (inspector.changed)
        next = { ...request, embed: { ...request.embed, inputs, ...(walked !== undefined ? { extras: walked } : {}) } }
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
