/**
 * Messages request ⇄ canonical ChatRequest. `decode` is the ingress direction (a client's body,
 * validated with the wire schemas, errors naming the field); `encode` is the provider direction
 * (any canonical request made acceptable to Anthropic: one system prompt, strictly alternating
 * roles, tool results first in user turns, max_tokens supplied, thinking rules kept).
 */
import { Either, ParseResult } from "effect"
import * as Schema from "effect/Schema"
import { Echo } from "@sluice/core"
import { CallId, type ChatRequest, Errors, type Message, type Part, type Parts, type Tool } from "@sluice/schema"
import * as Wire from "./Wire.ts"

// ---- decode: wire → canonical ------------------------------------------------------------

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const pathOf = (path: ReadonlyArray<PropertyKey>): string => path.map(String).join(".")

/** The first schema issue as Anthropic phrases it: `messages.0.content: …`. */
const invalid = (error: ParseResult.ParseError): Errors.InvalidRequest => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).filter(
    (i) => !i.message.startsWith("Expected undefined"),
  )
  // Of a union's alternatives, the one that got furthest names the real problem.
  let first = issues[0]
  for (const i of issues) if (first === undefined || i.path.length > first.path.length) first = i
  // Paths may hold a caller's record keys and messages quote the value: both are capped.
  const param = first === undefined ? "" : Echo.cap(pathOf(first.path), 200)
  const message =
    first === undefined
      ? "invalid request"
      : first._tag === "Missing"
        ? "Field required"
        : Echo.capDecodeMessage(first.message)
  return new Errors.InvalidRequest({ message: param === "" ? message : `${param}: ${message}`, param })
}

const decodeRequest = Schema.decodeUnknownEither(Wire.MessagesRequest, { errors: "all" })

const sourceToPart = (
  source: Wire.ImageBlock["source"] | Wire.DocumentBlock["source"],
  param: string,
): Either.Either<Part, Errors.InvalidRequest> => {
  switch (source.type) {
    case "base64":
      return Either.right({
        type: "image",
        source: { kind: "base64", mediaType: source.media_type, data: source.data },
      })
    case "url":
      return Either.right({ type: "image", source: { kind: "url", url: source.url } })
    case "text":
      return Either.right({ type: "text", text: source.data })
    case "file":
      return Either.left(
        new Errors.InvalidRequest({
          message: `${param}.source.type: "file" sources (Files API) are not supported by this gateway; send base64 or url`,
          param: `${param}.source.type`,
        }),
      )
  }
}

const urlDocument = (part: Part): Part =>
  part.type === "image" && part.source.kind === "url"
    ? { type: "image", source: { ...part.source, mediaType: "application/pdf" } }
    : part

const blockParts = (
  block: Wire.ContentBlockParam,
  param: string,
  toolNames: Map<string, string>,
): Either.Either<Array<Part>, Errors.InvalidRequest> => {
  switch (block.type) {
    case "text":
      return Either.right([{ type: "text", text: block.text }])
    case "image":
      return Either.map(sourceToPart(block.source, param), (p) => [p])
    case "document":
      return Either.map(sourceToPart(block.source, param), (p) => [urlDocument(p)])
    case "tool_use": {
      // The id a client was given may carry a Gemini thought signature (CallId).
      const { id, signature } = CallId.unwrap(block.id)
      toolNames.set(id, block.name)
      const call: Parts.ToolCallPart = {
        type: "tool_call",
        id,
        name: block.name,
        arguments: JSON.stringify(block.input),
      }
      return Either.right([signature === undefined ? call : { ...call, signature }])
    }
    case "thinking":
      return Either.right([{ type: "reasoning", text: block.thinking, signature: block.signature }])
    case "redacted_thinking":
      return Either.right([{ type: "reasoning", text: "", redacted: block.data }])
    case "tool_result": {
      const callId = CallId.unwrap(block.tool_use_id).id
      const content: Array<Extract<Part, { type: "text" | "image" }>> = []
      if (typeof block.content === "string") content.push({ type: "text", text: block.content })
      else {
        for (const [i, inner] of (block.content ?? []).entries()) {
          const r = blockParts(inner, `${param}.content.${i}`, toolNames)
          if (Either.isLeft(r)) return r
          for (const p of r.right) if (p.type === "text" || p.type === "image") content.push(p)
        }
      }
      return Either.right([
        {
          type: "tool_result",
          id: callId,
          name: toolNames.get(callId) ?? "",
          content,
          ...(block.is_error !== undefined ? { isError: block.is_error } : {}),
        },
      ])
    }
  }
}

const toolOf = (tool: Wire.CustomTool): Tool => ({
  name: tool.name,
  ...(tool.description !== undefined ? { description: tool.description } : {}),
  parameters: tool.input_schema,
  ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
})

const isCustom = (tool: Wire.CustomTool | Wire.ServerTool): tool is Wire.CustomTool =>
  (tool.type === undefined || tool.type === null || tool.type === "custom") && "input_schema" in tool

export interface DecodeOptions {
  /** Messages requires max_tokens; count_tokens does not take it. */
  readonly requireMaxTokens: boolean
}

/** A client's Messages (or count_tokens) body → canonical, or an InvalidRequest naming the field. */
export const decode = (body: unknown, options: DecodeOptions): Either.Either<ChatRequest, Errors.InvalidRequest> => {
  if (!isRecord(body))
    return Either.left(new Errors.InvalidRequest({ message: "the request body must be a JSON object" }))
  const parsed = decodeRequest(body)
  if (Either.isLeft(parsed)) return Either.left(invalid(parsed.left))
  const req = parsed.right
  if (options.requireMaxTokens && req.max_tokens === undefined) {
    return Either.left(new Errors.InvalidRequest({ message: "max_tokens: Field required", param: "max_tokens" }))
  }
  if (req.messages.length === 0)
    return Either.left(
      new Errors.InvalidRequest({ message: "messages: at least one message is required", param: "messages" }),
    )
  const messages: Array<Message> = []
  if (req.system !== undefined) {
    const parts: Array<Part> =
      typeof req.system === "string"
        ? [{ type: "text", text: req.system }]
        : req.system.map((b) => ({ type: "text", text: b.text }))
    if (parts.length > 0) messages.push({ role: "system", parts })
  }
  const toolNames = new Map<string, string>()
  for (const [i, m] of req.messages.entries()) {
    const parts: Array<Part> = []
    if (typeof m.content === "string") parts.push({ type: "text", text: m.content })
    else {
      for (const [j, block] of m.content.entries()) {
        const r = blockParts(block, `messages.${i}.content.${j}`, toolNames)
        if (Either.isLeft(r)) return Either.left(r.left)
        parts.push(...r.right)
      }
    }
    messages.push({ role: m.role, parts })
  }

  const tools: Array<Tool> = []
  const serverTools: Array<Wire.ServerTool> = []
  for (const t of req.tools ?? []) {
    if (isCustom(t)) tools.push(toolOf(t))
    else serverTools.push(t)
  }

  const extras: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) if (!Wire.knownRequestKeys.has(k)) extras[k] = v
  if (serverTools.length > 0) extras.server_tools = serverTools
  // Adaptive thinking has no canonical budget: keep the original for an Anthropic upstream.
  if (req.thinking?.type === "adaptive") extras.thinking = req.thinking

  const choice = req.tool_choice
  const chat: { -readonly [K in keyof ChatRequest]: ChatRequest[K] } = {
    model: req.model,
    messages,
    stream: req.stream === true,
  }
  if (tools.length > 0) chat.tools = tools
  if (choice !== undefined) {
    chat.toolChoice =
      choice.type === "tool"
        ? { mode: "required", allowed: [choice.name] }
        : choice.type === "any"
          ? { mode: "required" }
          : { mode: choice.type }
    if (choice.type !== "none" && choice.disable_parallel_tool_use === true) chat.parallelToolCalls = false
  }
  if (req.max_tokens !== undefined) chat.maxTokens = req.max_tokens
  if (req.temperature !== undefined) chat.temperature = req.temperature
  if (req.top_p !== undefined) chat.topP = req.top_p
  if (req.top_k !== undefined) chat.topK = req.top_k
  if (req.stop_sequences !== undefined) chat.stop = req.stop_sequences
  if (req.thinking !== undefined) {
    chat.reasoning =
      req.thinking.type === "enabled"
        ? { budgetTokens: req.thinking.budget_tokens, includeThoughts: true }
        : req.thinking.type === "adaptive"
          ? { includeThoughts: true }
          : { effort: "none" }
  }
  const user = req.metadata?.user_id
  if (typeof user === "string") chat.user = user
  if (Object.keys(extras).length > 0) chat.extras = { anthropic: extras }
  return Either.right(chat)
}

// ---- encode: canonical → wire ------------------------------------------------------------

export interface EncodeOptions {
  /** max_tokens when the client's format had none. */
  readonly defaultMaxTokens: number
}

export const defaultEncodeOptions: EncodeOptions = { defaultMaxTokens: 4096 }

/** Thinking budgets for a canonical effort level (Anthropic takes a token budget). */
const effortBudget: Record<string, number> = { minimal: 1024, low: 2048, medium: 8192, high: 24576 }

type Block = Wire.ContentBlockParam
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const parseArguments = (args: string): Record<string, unknown> => {
  try {
    const v: unknown = JSON.parse(args === "" ? "{}" : args)
    return isRecord(v) ? v : { value: v }
  } catch {
    // A model's broken JSON cannot be an object; keep the text rather than lose it.
    return { _raw: args }
  }
}

const mediaBlock = (part: Extract<Part, { type: "image" }>): Wire.ImageBlock | Wire.DocumentBlock => {
  const s = part.source
  const isPdf = s.mediaType === "application/pdf"
  if (s.kind === "base64") {
    const source = { type: "base64" as const, media_type: s.mediaType, data: s.data }
    return isPdf ? { type: "document", source } : { type: "image", source }
  }
  const source = { type: "url" as const, url: s.url }
  return isPdf ? { type: "document", source } : { type: "image", source }
}

const resultBlock = (part: Extract<Part, { type: "tool_result" }>): Wire.ToolResultBlock => {
  const content: Array<Wire.TextBlock | Wire.ImageBlock | Wire.DocumentBlock> = []
  for (const p of part.content) {
    if (p.type === "text") {
      if (p.text !== "") content.push({ type: "text", text: p.text })
    } else content.push(mediaBlock(p))
  }
  if (content.length === 0 && part.structured !== undefined)
    content.push({ type: "text", text: JSON.stringify(part.structured) })
  const only = content.length === 1 ? content[0] : undefined
  return {
    type: "tool_result",
    tool_use_id: part.id,
    // A lone text result goes as a string, the form clients send most.
    content: only?.type === "text" ? only.text : content,
    ...(part.isError === true ? { is_error: true } : {}),
  }
}

const blocksOf = (parts: ReadonlyArray<Part>): Array<Block> => {
  const out: Array<Block> = []
  for (const p of parts) {
    switch (p.type) {
      case "text":
        // Anthropic rejects empty text blocks.
        if (p.text !== "") out.push({ type: "text", text: p.text })
        break
      case "image":
        out.push(mediaBlock(p))
        break
      case "tool_call":
        out.push({ type: "tool_use", id: p.id, name: p.name, input: parseArguments(p.arguments) })
        break
      case "tool_result":
        out.push(resultBlock(p))
        break
      case "reasoning":
        // Only signed thinking may be replayed; unsigned thoughts (another provider's) are dropped.
        if (p.redacted !== undefined) out.push({ type: "redacted_thinking", data: p.redacted })
        else if (p.signature !== undefined && p.signature !== "")
          out.push({ type: "thinking", thinking: p.text, signature: p.signature })
        break
    }
  }
  return out
}

/** Tool results must open a user turn, before any other content. */
const resultsFirst = (blocks: Array<Block>): Array<Block> => {
  const results = blocks.filter((b) => b.type === "tool_result")
  return results.length === 0 ? blocks : [...results, ...blocks.filter((b) => b.type !== "tool_result")]
}

/** Canonical messages → system blocks and strictly alternating Anthropic turns. */
export const encodeMessages = (
  messages: ReadonlyArray<Message>,
): { system: Array<Wire.TextBlock>; messages: Array<Wire.MessageParam> } => {
  const system: Array<Wire.TextBlock> = []
  const turns: Array<{ role: "user" | "assistant"; content: Array<Block> }> = []
  for (const m of messages) {
    if (m.role === "system") {
      for (const p of m.parts) if (p.type === "text" && p.text !== "") system.push({ type: "text", text: p.text })
      continue
    }
    const role = m.role === "assistant" ? "assistant" : "user"
    const content = blocksOf(m.parts)
    if (content.length === 0) continue
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...content)
    else turns.push({ role, content })
  }
  return {
    system,
    messages: turns.map((t) => ({ role: t.role, content: t.role === "user" ? resultsFirst(t.content) : t.content })),
  }
}

/**
 * Whether the request is mid tool loop with a last assistant turn that does not start with
 * signed thinking: Anthropic rejects thinking then, so it is turned off for that call.
 */
const thinkingBreaksHistory = (messages: ReadonlyArray<Wire.MessageParam>): boolean => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m.role !== "assistant") continue
    const blocks = typeof m.content === "string" ? [] : m.content
    const usesTools = blocks.some((b) => b.type === "tool_use")
    const first = blocks[0]?.type
    return usesTools && first !== "thinking" && first !== "redacted_thinking"
  }
  return false
}

export type OutgoingRequest = Mutable<Omit<Wire.MessagesRequest, "tools" | "metadata">> & {
  tools?: Array<Wire.CustomTool | Wire.ServerTool>
  metadata?: { user_id: string }
  [extra: string]: unknown
}

/** A canonical request as an Anthropic Messages body. */
export const encode = (chat: ChatRequest, options: EncodeOptions = defaultEncodeOptions): OutgoingRequest => {
  const { system, messages } = encodeMessages(chat.messages)
  const extras = chat.extras?.anthropic ?? {}
  const out: OutgoingRequest = {
    model: chat.model,
    messages,
    max_tokens: chat.maxTokens ?? options.defaultMaxTokens,
  }
  if (system.length > 0) out.system = system

  const tools: Array<Wire.CustomTool | Wire.ServerTool> = (chat.tools ?? []).map((t) => {
    const given = isRecord(t.parameters) ? t.parameters : {}
    // Anthropic requires an object schema; a parameterless tool gets an empty one.
    const input_schema = { properties: {}, ...given, type: "object" as const }
    return {
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      input_schema,
      ...(t.strict !== undefined ? { strict: t.strict } : {}),
    }
  })
  const serverTools = extras.server_tools
  if (Array.isArray(serverTools)) for (const t of serverTools) if (isRecord(t)) tools.push(t as Wire.ServerTool)
  if (tools.length > 0) out.tools = tools

  const noParallel = chat.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {}
  const choice = chat.toolChoice
  if (choice !== undefined) {
    if (choice.mode === "none") out.tool_choice = { type: "none" }
    else if (choice.mode === "auto") out.tool_choice = { type: "auto", ...noParallel }
    else if (choice.allowed?.length === 1) out.tool_choice = { type: "tool", name: choice.allowed[0]!, ...noParallel }
    else out.tool_choice = { type: "any", ...noParallel }
  } else if (chat.parallelToolCalls === false && tools.length > 0) {
    out.tool_choice = { type: "auto", disable_parallel_tool_use: true }
  }

  // Canonical temperature runs 0–2 (OpenAI, Gemini); Anthropic's runs 0–1.
  if (chat.temperature !== undefined) out.temperature = Math.min(1, Math.max(0, chat.temperature))
  if (chat.topP !== undefined) out.top_p = chat.topP
  if (chat.topK !== undefined) out.top_k = chat.topK
  if (chat.stop !== undefined && chat.stop.length > 0) out.stop_sequences = chat.stop
  if (chat.user !== undefined) out.metadata = { user_id: chat.user }
  if (chat.stream) out.stream = true

  const r = chat.reasoning
  let budget: number | undefined
  if (r !== undefined && r.effort !== "none") {
    budget =
      r.budgetTokens !== undefined && r.budgetTokens > 0
        ? r.budgetTokens
        : r.effort !== undefined
          ? effortBudget[r.effort]
          : r.includeThoughts === true
            ? 1024
            : undefined
  }
  const forced = out.tool_choice?.type === "any" || out.tool_choice?.type === "tool"
  if (budget !== undefined && !forced && !thinkingBreaksHistory(messages)) {
    budget = Math.max(1024, Math.floor(budget))
    if (chat.maxTokens === undefined) out.max_tokens = Math.max(out.max_tokens ?? 0, budget + options.defaultMaxTokens)
    if (budget < (out.max_tokens ?? 0)) {
      out.thinking = { type: "enabled", budget_tokens: budget }
      // Anthropic rejects sampling changes while thinking.
      delete out.temperature
      delete out.top_k
    }
  }

  // Adaptive thinking (kept by an Anthropic ingress) replaces the budget we worked out.
  if (out.thinking !== undefined && isRecord(extras.thinking)) out.thinking = extras.thinking as Wire.ThinkingConfig
  for (const [k, v] of Object.entries(extras)) {
    // Fields another Anthropic client sent that we do not map pass through; ours win.
    if (k !== "server_tools" && k !== "thinking" && !(k in out)) out[k] = v
  }
  return out
}

/** A count_tokens body: the same conversion, minus what count_tokens refuses. */
export const encodeCountTokens = (chat: ChatRequest): Record<string, unknown> => {
  const full = encode({ ...chat, stream: false })
  const out: Record<string, unknown> = {}
  for (const k of Wire.countTokensKeys) if (full[k] !== undefined) out[k] = full[k]
  return out
}
