/**
 * A mock Anthropic API on loopback, written by hand from Anthropic's documentation (not with
 * the @sluice/anthropic codec, so a codec bug cannot hide itself). It serves `POST /v1/messages`
 * (JSON and the full SSE event sequence), `POST /v1/messages/count_tokens` and `GET /v1/models`,
 * answers errors in Anthropic's `{type:"error", error:{type, message}}` shape, and refuses what
 * Anthropic refuses — a bad key, no anthropic-version, no max_tokens, roles that do not
 * alternate, empty text blocks, tool_use without its tool_result right after, a tool_result for
 * an unknown tool_use_id, a tool_use id outside `^[a-zA-Z0-9_-]+$`, thinking rules,
 * a thinking block whose signature does not match its text — so a provider's fixes are tested.
 *
 * Tests script answers (`next`, `script`) and read what was sent (`requests`).
 */
import type * as Http from "node:http"
import * as MockUpstream from "../MockUpstream.ts"

export type Block =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "redacted_thinking"; data: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }

export interface Turn {
  readonly content: ReadonlyArray<Block>
  readonly stop_reason?: string
  readonly stop_sequence?: string | null
  /** Overrides of the computed usage (cache counts, …). */
  readonly usage?: Readonly<Record<string, number>>
  /** Streams only: after this many content blocks, send `event: error` and end the stream. */
  readonly streamError?: { readonly afterBlocks: number; readonly type: string; readonly message: string }
  /** Streams only: milliseconds between frames. */
  readonly delayMs?: number
}

export interface Failure {
  readonly status: number
  readonly type: string
  readonly message: string
  readonly headers?: Readonly<Record<string, string>>
}

export type Answer = Turn | Failure
export type Script = (body: Record<string, unknown>) => Answer

export interface ModelEntry {
  readonly id: string
  readonly display_name: string
  readonly created_at: string
}

export interface Options {
  /** The key the mock accepts in x-api-key (default "sk-ant-mock"). */
  readonly apiKey?: string
  readonly models?: ReadonlyArray<ModelEntry>
}

export interface AnthropicMock {
  readonly url: string
  readonly upstream: MockUpstream.MockUpstream
  /** Bodies of the accepted and refused /v1/messages calls, in order. */
  readonly messages: () => Array<Record<string, unknown>>
  /** Answer the next /v1/messages call with this (queued, first in first out). */
  readonly next: (answer: Answer) => void
  /** Answer every call not covered by `next` with this (default: echo the last user text). */
  readonly script: (fn: Script) => void
  readonly close: () => Promise<void>
}

/** The signature the mock puts on thinking it produced, and checks on thinking sent back. */
export const signatureFor = (thinking: string): string => {
  let h = 2166136261
  for (let i = 0; i < thinking.length; i++) h = Math.imul(h ^ thinking.charCodeAt(i), 16777619)
  return `EqRsig${(h >>> 0).toString(36)}${thinking.length.toString(36)}`
}

/** A thinking block with the signature the mock will accept back. */
export const thinking = (text: string): Block => ({ type: "thinking", thinking: text, signature: signatureFor(text) })

const defaultModels: ReadonlyArray<ModelEntry> = [
  { id: "claude-sonnet-4-5-20250929", display_name: "Claude Sonnet 4.5", created_at: "2025-09-29T00:00:00Z" },
  { id: "claude-haiku-4-5-20251001", display_name: "Claude Haiku 4.5", created_at: "2025-10-01T00:00:00Z" },
  { id: "claude-opus-4-1-20250805", display_name: "Claude Opus 4.1", created_at: "2025-08-05T00:00:00Z" },
]

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isFailure = (a: Answer): a is Failure => "status" in a

const fail = (status: number, type: string, message: string): Failure => ({ status, type, message })
const invalid = (message: string): Failure => fail(400, "invalid_request_error", message)

let seq = 0
const newId = (prefix: string) => `${prefix}_mock${(++seq).toString(36).padStart(6, "0")}${Date.now().toString(36)}`

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  let out = ""
  for (const b of content) {
    if (!isRecord(b)) continue
    if (b.type === "text" && typeof b.text === "string") out += b.text
    else if (b.type === "tool_result") out += textOf(b.content)
    else if (b.type === "tool_use") out += JSON.stringify(b.input ?? {})
    else if (b.type === "thinking" && typeof b.thinking === "string") out += b.thinking
  }
  return out
}

const promptTokens = (body: Record<string, unknown>): number => {
  let chars = textOf(body.system) + JSON.stringify(body.tools ?? "")
  for (const m of Array.isArray(body.messages) ? body.messages : []) if (isRecord(m)) chars += textOf(m.content)
  return Math.max(1, Math.ceil(chars.length / 4))
}

// ---- validation: what Anthropic refuses --------------------------------------------------

const blocksOf = (m: Record<string, unknown>): Array<Record<string, unknown>> =>
  typeof m.content === "string" ? [{ type: "text", text: m.content }] : (m.content as Array<Record<string, unknown>>)

const checkMessages = (body: Record<string, unknown>): Failure | undefined => {
  const messages = body.messages
  if (!Array.isArray(messages)) return invalid("messages: Field required")
  if (messages.length === 0) return invalid("messages: at least one message is required")
  let previousRole: unknown
  let pendingToolIds: Array<string> = []
  for (const [i, m] of messages.entries()) {
    if (!isRecord(m)) return invalid(`messages.${i}: Input should be a valid dictionary`)
    if (m.role !== "user" && m.role !== "assistant")
      return invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`)
    if (m.role === previousRole)
      return invalid(
        `messages: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`,
      )
    previousRole = m.role
    if (typeof m.content !== "string" && !Array.isArray(m.content))
      return invalid(`messages.${i}.content: Input should be a valid list`)
    const blocks = blocksOf(m)
    const isLast = i === messages.length - 1
    if (blocks.length === 0 && !(isLast && m.role === "assistant"))
      return invalid(
        `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
      )
    let seenOther = false
    const results: Array<string> = []
    for (const [j, b] of blocks.entries()) {
      if (!isRecord(b) || typeof b.type !== "string") return invalid(`messages.${i}.content.${j}: Field required`)
      if (b.type === "text") {
        if (typeof b.text !== "string") return invalid(`messages.${i}.content.${j}.text: Field required`)
        if (b.text === "" && !(isLast && m.role === "assistant"))
          return invalid(`messages.${i}.content.${j}: text content blocks must be non-empty`)
        seenOther = true
      } else if (b.type === "tool_result") {
        if (m.role !== "user")
          return invalid(`messages.${i}.content.${j}: tool_result blocks must be in a user message`)
        if (seenOther)
          return invalid(
            `messages.${i}.content.${j}: tool_result blocks must come before any other content in a user message`,
          )
        if (typeof b.tool_use_id !== "string") return invalid(`messages.${i}.content.${j}.tool_use_id: Field required`)
        if (!pendingToolIds.includes(b.tool_use_id))
          return invalid(
            `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
          )
        results.push(b.tool_use_id)
      } else if (b.type === "tool_use") {
        if (m.role !== "assistant")
          return invalid(`messages.${i}.content.${j}: tool_use blocks must be in an assistant message`)
        if (typeof b.id !== "string" || typeof b.name !== "string" || !isRecord(b.input))
          return invalid(`messages.${i}.content.${j}.input: Input should be a valid dictionary`)
        if (!/^[a-zA-Z0-9_-]+$/.test(b.id))
          return invalid(`messages.${i}.content.${j}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`)
        seenOther = true
      } else if (b.type === "thinking") {
        if (typeof b.thinking !== "string" || typeof b.signature !== "string" || b.signature === "")
          return invalid(`messages.${i}.content.${j}.signature: Field required`)
        if (b.signature !== signatureFor(b.thinking))
          return invalid(`messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`)
      } else if (b.type === "redacted_thinking") {
        if (typeof b.data !== "string") return invalid(`messages.${i}.content.${j}.data: Field required`)
      } else if (b.type === "image" || b.type === "document") {
        const s = b.source
        if (!isRecord(s) || (s.type !== "base64" && s.type !== "url" && s.type !== "text"))
          return invalid(`messages.${i}.content.${j}.source: Input tag does not match any of the expected tags`)
        seenOther = true
      } else return invalid(`messages.${i}.content.${j}.type: Input tag '${b.type}' does not match the expected tags`)
    }
    const missing = pendingToolIds.filter((id) => !results.includes(id))
    if (missing.length > 0)
      return invalid(
        `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
      )
    pendingToolIds = m.role === "assistant" ? blocks.filter((b) => b.type === "tool_use").map((b) => String(b.id)) : []
  }
  return undefined
}

const checkCommon = (body: Record<string, unknown>): Failure | undefined => {
  if (typeof body.model !== "string") return invalid("model: Field required")
  const system = body.system
  if (system !== undefined && typeof system !== "string") {
    if (!Array.isArray(system)) return invalid("system: Input should be a valid string or list")
    for (const [i, b] of system.entries())
      if (!isRecord(b) || b.type !== "text" || typeof b.text !== "string" || b.text === "")
        return invalid(`system.${i}: text content blocks must be non-empty`)
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return invalid("tools: Input should be a valid list")
    for (const [i, t] of body.tools.entries()) {
      if (!isRecord(t) || typeof t.name !== "string") return invalid(`tools.${i}.name: Field required`)
      if (t.type === undefined || t.type === "custom") {
        if (!isRecord(t.input_schema) || t.input_schema.type !== "object")
          return invalid(`tools.${i}.custom.input_schema.type: Input should be 'object'`)
        if (!/^[a-zA-Z0-9_-]{1,128}$/.test(t.name))
          return invalid(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`)
      }
    }
  }
  const choice = body.tool_choice
  if (choice !== undefined) {
    if (!isRecord(choice) || !["auto", "any", "tool", "none"].includes(String(choice.type)))
      return invalid("tool_choice.type: Input tag does not match any of the expected tags")
    if (choice.type === "tool" && typeof choice.name !== "string")
      return invalid("tool_choice.tool.name: Field required")
  }
  return checkMessages(body)
}

const checkMessagesRequest = (body: Record<string, unknown>): Failure | undefined => {
  const common = checkCommon(body)
  if (common !== undefined) return common
  const max = body.max_tokens
  if (max === undefined) return invalid("max_tokens: Field required")
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1)
    return invalid("max_tokens: Input should be a valid integer greater than or equal to 1")
  const t = body.temperature
  if (t !== undefined && (typeof t !== "number" || t < 0 || t > 1))
    return invalid("temperature: Input should be less than or equal to 1")
  if (body.stop_sequences !== undefined && !Array.isArray(body.stop_sequences))
    return invalid("stop_sequences: Input should be a valid list")
  const thinking = body.thinking
  if (isRecord(thinking) && thinking.type === "enabled") {
    const budget = thinking.budget_tokens
    if (typeof budget !== "number" || budget < 1024)
      return invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if (max <= budget) return invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
    if (t !== undefined && t !== 1) return invalid("`temperature` may only be set to 1 when thinking is enabled")
    if (body.top_k !== undefined) return invalid("`top_k` must be unset when thinking is enabled")
    const choice = body.tool_choice
    if (isRecord(choice) && (choice.type === "any" || choice.type === "tool"))
      return invalid("Thinking may not be enabled when tool_choice forces tool use.")
  }
  return undefined
}

const countTokensAllowed = new Set([
  "model",
  "messages",
  "system",
  "tools",
  "tool_choice",
  "thinking",
  "mcp_servers",
  "context_management",
  "output_config",
])

// ---- answers -----------------------------------------------------------------------------

const echo: Script = (body) => {
  const messages = Array.isArray(body.messages) ? body.messages : []
  const last = messages[messages.length - 1]
  return { content: [{ type: "text", text: `claude: ${isRecord(last) ? textOf(last.content) : ""}` }] }
}

const outputTokens = (content: ReadonlyArray<Block>): number => {
  let chars = 0
  for (const b of content)
    chars +=
      b.type === "text"
        ? b.text.length
        : b.type === "thinking"
          ? b.thinking.length
          : b.type === "tool_use"
            ? JSON.stringify(b.input).length
            : 0
  return Math.max(1, Math.ceil(chars / 4))
}

const usageOf = (body: Record<string, unknown>, turn: Turn) => ({
  input_tokens: promptTokens(body),
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: outputTokens(turn.content),
  ...turn.usage,
})

const stopReason = (turn: Turn) =>
  turn.stop_reason ?? (turn.content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn")

const writeError = (res: Http.ServerResponse, f: Failure) => {
  res.writeHead(f.status, { "content-type": "application/json", "request-id": newId("req"), ...f.headers })
  res.end(JSON.stringify({ type: "error", error: { type: f.type, message: f.message }, request_id: newId("req") }))
}

const writeJson = (res: Http.ServerResponse, body: unknown) => {
  res.writeHead(200, { "content-type": "application/json", "request-id": newId("req") })
  res.end(JSON.stringify(body))
}

/** Split text into `n` roughly equal pieces (at least one). */
const split = (text: string, n: number): Array<string> => {
  if (text.length === 0) return []
  const size = Math.max(1, Math.ceil(text.length / n))
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The SSE sequence Anthropic sends for a turn, event line and data line each. */
const writeStream = async (res: Http.ServerResponse, body: Record<string, unknown>, turn: Turn) => {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "request-id": newId("req"),
  })
  const send = async (type: string, data: Record<string, unknown>) => {
    if (turn.delayMs) await sleep(turn.delayMs)
    if (!res.destroyed) res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
  }
  const usage = usageOf(body, turn)
  await send("message_start", {
    message: {
      id: newId("msg"),
      type: "message",
      role: "assistant",
      model: body.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  })
  await send("ping", {})
  for (const [index, block] of turn.content.entries()) {
    if (turn.streamError !== undefined && index === turn.streamError.afterBlocks) {
      await send("error", { error: { type: turn.streamError.type, message: turn.streamError.message } })
      res.end()
      return
    }
    switch (block.type) {
      case "text":
        await send("content_block_start", { index, content_block: { type: "text", text: "" } })
        for (const piece of split(block.text, 3))
          await send("content_block_delta", { index, delta: { type: "text_delta", text: piece } })
        break
      case "thinking":
        await send("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } })
        for (const piece of split(block.thinking, 3))
          await send("content_block_delta", { index, delta: { type: "thinking_delta", thinking: piece } })
        await send("content_block_delta", { index, delta: { type: "signature_delta", signature: block.signature } })
        break
      case "redacted_thinking":
        await send("content_block_start", { index, content_block: { type: "redacted_thinking", data: block.data } })
        break
      case "tool_use": {
        await send("content_block_start", {
          index,
          content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
        })
        // Anthropic opens with an empty fragment, then sends the JSON in pieces.
        await send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } })
        for (const piece of split(JSON.stringify(block.input), 3))
          await send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } })
        break
      }
    }
    await send("content_block_stop", { index })
  }
  if (turn.streamError !== undefined && turn.streamError.afterBlocks >= turn.content.length) {
    await send("error", { error: { type: turn.streamError.type, message: turn.streamError.message } })
    res.end()
    return
  }
  await send("message_delta", {
    delta: { stop_reason: stopReason(turn), stop_sequence: turn.stop_sequence ?? null },
    usage: { output_tokens: usage.output_tokens },
  })
  await send("message_stop", {})
  res.end()
}

export const start = async (options: Options = {}): Promise<AnthropicMock> => {
  const upstream = await MockUpstream.start()
  const apiKey = options.apiKey ?? "sk-ant-mock"
  const models = options.models ?? defaultModels
  const queue: Array<Answer> = []
  let script: Script = echo

  /** Headers every endpoint checks first, as Anthropic does. */
  const checkHeaders = (req: MockUpstream.Recorded): Failure | undefined => {
    const key = req.headers["x-api-key"]
    if (key === undefined) return fail(401, "authentication_error", "x-api-key header is required")
    if (key !== apiKey) return fail(401, "authentication_error", "invalid x-api-key")
    if (req.headers["anthropic-version"] === undefined) return invalid("anthropic-version: header is required")
    return undefined
  }

  upstream.on("POST", "/v1/messages", async (req, res) => {
    const refused = checkHeaders(req)
    if (refused !== undefined) return writeError(res, refused)
    if (!isRecord(req.body)) return writeError(res, invalid("The request body is not valid JSON."))
    const body = req.body
    const bad = checkMessagesRequest(body)
    if (bad !== undefined) return writeError(res, bad)
    const answer = queue.shift() ?? script(body)
    if (isFailure(answer)) return writeError(res, answer)
    if (body.stream === true) return writeStream(res, body, answer)
    writeJson(res, {
      id: newId("msg"),
      type: "message",
      role: "assistant",
      model: body.model,
      content: answer.content,
      stop_reason: stopReason(answer),
      stop_sequence: answer.stop_sequence ?? null,
      usage: usageOf(body, answer),
    })
  })

  upstream.on("POST", "/v1/messages/count_tokens", (req, res) => {
    const refused = checkHeaders(req)
    if (refused !== undefined) return writeError(res, refused)
    if (!isRecord(req.body)) return writeError(res, invalid("The request body is not valid JSON."))
    for (const k of Object.keys(req.body))
      if (!countTokensAllowed.has(k)) return writeError(res, invalid(`${k}: Extra inputs are not permitted`))
    const bad = checkCommon(req.body)
    if (bad !== undefined) return writeError(res, bad)
    writeJson(res, { input_tokens: promptTokens(req.body) })
  })

  upstream.on("GET", "/v1/models", (req, res) => {
    const refused = checkHeaders(req)
    if (refused !== undefined) return writeError(res, refused)
    const limit = Number(req.query.get("limit") ?? 20)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      return writeError(res, invalid("limit: Input should be less than or equal to 1000"))
    const after = req.query.get("after_id")
    const start = after === null ? 0 : models.findIndex((m) => m.id === after) + 1
    const data = models.slice(start, start + limit).map((m) => ({ type: "model", ...m }))
    writeJson(res, {
      data,
      has_more: start + limit < models.length,
      first_id: data[0]?.id ?? null,
      last_id: data[data.length - 1]?.id ?? null,
    })
  })

  upstream.on("GET", /^\/v1\/models\/[^/]+$/, (req, res) => {
    const refused = checkHeaders(req)
    if (refused !== undefined) return writeError(res, refused)
    const id = decodeURIComponent(req.path.slice("/v1/models/".length))
    const found = models.find((m) => m.id === id)
    if (found === undefined) return writeError(res, fail(404, "not_found_error", `model: ${id}`))
    writeJson(res, { type: "model", ...found })
  })

  return {
    url: upstream.url,
    upstream,
    messages: () =>
      upstream.requests
        .filter((r) => r.method === "POST" && r.path === "/v1/messages" && isRecord(r.body))
        .map((r) => r.body as Record<string, unknown>),
    next: (answer) => {
      queue.push(answer)
    },
    script: (fn) => {
      script = fn
    },
    close: () => upstream.close(),
  }
}

/** Helpers to script answers. */
export const text = (t: string): Block => ({ type: "text", text: t })
export const toolUse = (name: string, input: Record<string, unknown>, id = newId("toolu")): Block => ({
  type: "tool_use",
  id,
  name,
  input,
})
export const failure = fail
