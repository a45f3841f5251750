/**
 * Chat completion requests, both ways: `decode` turns a client's body into a canonical
 * ChatRequest (the ingress), `encode` turns a canonical ChatRequest into the body sent to an
 * OpenAI-format upstream (the provider).
 */
import { Either } from "effect"
import { Echo } from "@sluice/core"
import type { Chat, ChatRequest, Message, Part, Parts } from "@sluice/schema"
import { compact, badField, decode as decodeWith, invalid, unknownFields } from "./Decode.ts"
import type { Dialect } from "./Dialect.ts"
import * as GeminiTools from "./GeminiTools.ts"
import * as GoogleOptions from "./GoogleOptions.ts"
import * as Media from "./Media.ts"
import * as ThoughtSignature from "./ThoughtSignature.ts"
import * as Wire from "./Wire.ts"
import type { Errors } from "@sluice/schema"

/** Built once: a decoder per call would build the schema's parser every time. */
const decodeChatRequest = decodeWith(Wire.ChatCompletionRequest)

// ---- wire → canonical -----------------------------------------------------------------------

type MediaPart = Parts.ImagePart

const mediaFromUrl = (url: string, param: string): Either.Either<MediaPart, Errors.InvalidRequest> => {
  if (Media.isHttpUrl(url)) return Either.right({ type: "image", source: { kind: "url", url } })
  const data = Media.parseDataUrl(url)
  if (data === undefined) return Either.left(badField(param, "expected an http(s) URL or a base64 data: URL"))
  return Either.right({ type: "image", source: { kind: "base64", mediaType: data.mediaType, data: data.data } })
}

const userPart = (p: Wire.UserContentPart, param: string): Either.Either<Part, Errors.InvalidRequest> => {
  switch (p.type) {
    case "text":
      return Either.right({ type: "text", text: p.text })
    case "image_url":
      return mediaFromUrl(p.image_url.url, `${param}.image_url.url`)
    case "input_audio":
      return Either.right({
        type: "image",
        source: { kind: "base64", mediaType: Media.audioMediaType(p.input_audio.format), data: p.input_audio.data },
      })
    case "file": {
      if (p.file.file_data === undefined) {
        const ref = p.file.file_id === undefined ? undefined : Media.fileRef(p.file.file_id)
        if (ref !== undefined) return Either.right(ref)
        return Either.left(
          badField(
            `${param}.file.file_id`,
            p.file.file_id === undefined
              ? "send file_data or the file_id of a file uploaded to this gateway's /v1/files"
              : "file_id must name a file uploaded to this gateway's /v1/files (file-…)",
          ),
        )
      }
      const data = Media.parseDataUrl(p.file.file_data)
      if (data === undefined) return Either.left(badField(`${param}.file.file_data`, "expected a base64 data: URL"))
      return Either.right({ type: "image", source: { kind: "base64", mediaType: data.mediaType, data: data.data } })
    }
  }
}

const textParts = (content: string | ReadonlyArray<Wire.TextContent>): Array<Part> =>
  typeof content === "string" ? [{ type: "text", text: content }] : content.map((c) => ({ type: "text", text: c.text }))

const toMessages = (messages: ReadonlyArray<Wire.Message>): Either.Either<Array<Message>, Errors.InvalidRequest> => {
  const out: Array<Message> = []
  /** Tool names by call id, so a tool message (which carries only the id) gets its name. */
  const names = new Map<string, string>()
  for (const [i, m] of messages.entries()) {
    const param = `messages[${i}]`
    switch (m.role) {
      case "system":
      case "developer":
        out.push(compact<Message>({ role: "system", parts: textParts(m.content), name: m.name }))
        break
      case "user": {
        const parts: Array<Part> = []
        if (typeof m.content === "string") parts.push({ type: "text", text: m.content })
        else
          for (const [j, c] of m.content.entries()) {
            const part = userPart(c, `${param}.content[${j}]`)
            if (Either.isLeft(part)) return Either.left(part.left)
            parts.push(part.right)
          }
        out.push(compact<Message>({ role: "user", parts, name: m.name }))
        break
      }
      case "assistant": {
        const parts: Array<Part> = []
        if (m.reasoning_content) parts.push({ type: "reasoning", text: m.reasoning_content })
        if (typeof m.content === "string") {
          if (m.content !== "") parts.push({ type: "text", text: m.content })
        } else if (m.content) {
          for (const c of m.content) {
            const text = c.type === "text" ? c.text : c.refusal
            if (text !== "") parts.push({ type: "text", text })
          }
        }
        if (m.refusal && !parts.some((p) => p.type === "text")) parts.push({ type: "text", text: m.refusal })
        for (const call of m.tool_calls ?? []) {
          const { id, signature } = ThoughtSignature.fromClient(call.id, call.extra_content)
          names.set(id, call.function.name)
          const part: Parts.ToolCallPart = {
            type: "tool_call",
            id,
            name: call.function.name,
            arguments: call.function.arguments,
          }
          parts.push(signature === undefined ? part : { ...part, signature })
        }
        out.push(compact<Message>({ role: "assistant", parts, name: m.name }))
        break
      }
      case "tool": {
        const callId = ThoughtSignature.fromClient(m.tool_call_id).id
        const name = names.get(callId)
        if (name === undefined) {
          return Either.left(
            badField(
              `${param}.tool_call_id`,
              `"${Echo.cap(m.tool_call_id)}" does not answer a tool call of an earlier assistant message`,
            ),
          )
        }
        const result: Part = {
          type: "tool_result",
          id: callId,
          name,
          content: typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content,
        }
        // Consecutive tool messages answer one assistant turn: keep them in one canonical turn.
        const last = out[out.length - 1]
        if (last?.role === "tool") out[out.length - 1] = { ...last, parts: [...last.parts, result] }
        else out.push({ role: "tool", parts: [result] })
        break
      }
    }
  }
  return Either.right(out)
}

const toolChoice = (c: Wire.ToolChoice): Chat.ToolChoice => {
  if (typeof c === "string") return { mode: c }
  if (c.type === "function") return { mode: "required", allowed: [c.function.name] }
  return { mode: c.allowed_tools.mode, allowed: c.allowed_tools.tools.map((t) => t.function.name) }
}

const responseFormat = (f: Wire.ResponseFormat): Chat.ResponseFormat => {
  switch (f.type) {
    case "text":
      return { type: "text" }
    case "json_object":
      return { type: "json" }
    case "json_schema":
      return compact<Chat.ResponseFormat>({
        type: "json_schema",
        name: f.json_schema.name,
        schema: f.json_schema.schema ?? {},
        strict: f.json_schema.strict ?? undefined,
      })
  }
}

const effort = (e: typeof Wire.ReasoningEffort.Type): Chat.ReasoningEffort =>
  e === "xhigh" || e === "max" ? "high" : e

/**
 * reasoning_effort, and Google's thinking_config over it. An effort also asks for the thoughts
 * (Gemini's includeThoughts), so a Gemini upstream's reasoning reaches the client as
 * `reasoning_content`, as it does from reasoning models of other formats.
 */
const reasoningOf = (
  e: typeof Wire.ReasoningEffort.Type | null | undefined,
  google: Chat.ReasoningConfig | undefined,
): Chat.ReasoningConfig | undefined => {
  const base: Chat.ReasoningConfig | undefined =
    e == null ? undefined : e === "none" ? { effort: "none" } : { effort: effort(e), includeThoughts: true }
  if (google === undefined) return base
  const merged = { ...base, ...google }
  // A budget from Google's config replaces the effort.
  if (google.budgetTokens !== undefined && google.effort === undefined) delete merged.effort
  if (merged.includeThoughts === undefined && merged.effort !== undefined && merged.effort !== "none")
    merged.includeThoughts = true
  return Object.keys(merged).length === 0 ? undefined : merged
}

export interface Decoded {
  readonly chat: ChatRequest
  /** `stream_options.include_usage`: the client wants the final usage chunk. */
  readonly includeUsage: boolean
}

const nn = <A>(a: A | null | undefined): A | undefined => (a === null ? undefined : a)

/**
 * `modalities` asking for images (OpenRouter's convention for image models on chat completions)
 * → canonical output; the field itself still travels to an OpenAI-format upstream as is.
 */
const outputOf = (body: unknown): ChatRequest["output"] => {
  const m = typeof body === "object" && body !== null ? (body as Record<string, unknown>).modalities : undefined
  if (!Array.isArray(m) || !m.includes("image")) return undefined
  return { modalities: m.filter((x): x is "text" | "image" => x === "text" || x === "image") }
}

/** A client's chat completion body → canonical. Errors name the offending field. */
export const decode = (body: unknown): Either.Either<Decoded, Errors.InvalidRequest> =>
  Either.gen(function* () {
    // Gemini's built-in tools and image options ride beside the OpenAI fields (see GeminiTools).
    const gemini = yield* GeminiTools.split(body)
    const w = yield* Either.mapLeft(decodeChatRequest(gemini.body), invalid)
    if (w.messages.length === 0) return yield* Either.left(badField("messages", "must contain at least one message"))
    if (w.n != null && w.n !== 1) {
      return yield* Either.left(badField("n", `this gateway returns one choice per request; n must be 1 (got ${w.n})`))
    }
    const messages = yield* toMessages(w.messages)
    const extras = unknownFields(body, Wire.requestFields, GoogleOptions.consumedKeys(body))
    const google = yield* GoogleOptions.reasoning(body)
    const chat = compact<ChatRequest>({
      model: w.model,
      messages,
      tools: w.tools?.map((t) =>
        compact<Chat.Tool>({
          name: t.function.name,
          description: t.function.description,
          parameters: t.function.parameters,
          strict: nn(t.function.strict),
        }),
      ),
      toolChoice: w.tool_choice == null ? undefined : toolChoice(w.tool_choice),
      parallelToolCalls: nn(w.parallel_tool_calls),
      maxTokens: nn(w.max_completion_tokens) ?? nn(w.max_tokens),
      temperature: nn(w.temperature),
      topP: nn(w.top_p),
      stop: w.stop == null ? undefined : typeof w.stop === "string" ? [w.stop] : w.stop,
      seed: nn(w.seed),
      presencePenalty: nn(w.presence_penalty),
      frequencyPenalty: nn(w.frequency_penalty),
      reasoning: reasoningOf(w.reasoning_effort, google),
      responseFormat: w.response_format == null ? undefined : responseFormat(w.response_format),
      user: nn(w.user),
      metadata: nn(w.metadata),
      stream: w.stream === true,
      output: outputOf(body),
      extras:
        extras === undefined && gemini.gemini === undefined
          ? undefined
          : {
              ...(extras !== undefined ? { openai: extras } : {}),
              ...(gemini.gemini !== undefined ? { gemini: gemini.gemini } : {}),
            },
    })
    return { chat, includeUsage: w.stream_options?.include_usage === true }
  })

// ---- canonical → wire -----------------------------------------------------------------------

const contentPart = (p: Parts.ImagePart): Wire.UserContentPart => {
  const s = p.source
  if (s.kind === "url") return { type: "image_url", image_url: { url: s.url } }
  switch (Media.kindOf(s)) {
    case "image":
      return { type: "image_url", image_url: { url: Media.toDataUrl(s.mediaType, s.data) } }
    case "audio":
      return { type: "input_audio", input_audio: { data: s.data, format: Media.audioFormatOf(s.mediaType) } }
    case "file":
      return {
        type: "file",
        file: { file_data: Media.toDataUrl(s.mediaType, s.data), filename: Media.filenameFor(s.mediaType) },
      }
  }
}

const joinText = (parts: ReadonlyArray<Part>): string => {
  let s = ""
  for (const p of parts) if (p.type === "text") s += p.text
  return s
}

const toolResultText = (p: Parts.ToolResultPart): string => {
  const text = joinText(p.content)
  if (text !== "" || p.structured === undefined) return text
  return JSON.stringify(p.structured)
}

const userContent = (parts: ReadonlyArray<Part>): string | Array<Wire.UserContentPart> => {
  const out: Array<Wire.UserContentPart> = []
  for (const p of parts) {
    if (p.type === "text") out.push({ type: "text", text: p.text })
    else if (p.type === "image") out.push(contentPart(p))
  }
  return out.length === 1 && out[0]!.type === "text" ? out[0]!.text : out
}

const wireMessages = (messages: ReadonlyArray<Message>, dialect: Dialect): Array<Wire.Message> => {
  const out: Array<Wire.Message> = []
  for (const m of messages) {
    switch (m.role) {
      case "system":
        out.push(compact<Wire.Message>({ role: "system", content: joinText(m.parts), name: m.name }))
        break
      case "assistant": {
        const text = joinText(m.parts)
        const calls: Array<Wire.ToolCall> = []
        let reasoning = ""
        for (const p of m.parts) {
          if (p.type === "tool_call")
            calls.push({ id: p.id, type: "function", function: { name: p.name, arguments: p.arguments } })
          else if (p.type === "reasoning") reasoning += p.text
        }
        out.push(
          compact<Wire.Message>({
            role: "assistant",
            content: text === "" && calls.length > 0 ? null : text,
            tool_calls: calls.length > 0 ? calls : undefined,
            name: m.name,
            reasoning_content: dialect.replayReasoning && reasoning !== "" ? reasoning : undefined,
          }),
        )
        break
      }
      case "user":
      case "tool": {
        // Tool results become `tool` messages, which must come right after the assistant turn.
        for (const p of m.parts)
          if (p.type === "tool_result") out.push({ role: "tool", tool_call_id: p.id, content: toolResultText(p) })
        const rest = m.parts.filter((p) => p.type === "text" || p.type === "image")
        if (rest.length > 0) out.push(compact<Wire.Message>({ role: "user", content: userContent(rest), name: m.name }))
        break
      }
    }
  }
  return out
}

const wireToolChoice = (c: Chat.ToolChoice): Wire.ToolChoice => {
  if (c.allowed === undefined) return c.mode
  if (c.mode === "required" && c.allowed.length === 1) return { type: "function", function: { name: c.allowed[0]! } }
  if (c.mode === "none") return "none"
  return {
    type: "allowed_tools",
    allowed_tools: { mode: c.mode, tools: c.allowed.map((name) => ({ type: "function", function: { name } })) },
  }
}

const wireResponseFormat = (f: Chat.ResponseFormat): Wire.ResponseFormat => {
  switch (f.type) {
    case "text":
      return { type: "text" }
    case "json":
      return { type: "json_object" }
    case "json_schema":
      return {
        type: "json_schema",
        json_schema: compact<Extract<Wire.ResponseFormat, { type: "json_schema" }>["json_schema"]>({
          name: f.name ?? "response",
          schema: (f.schema ?? {}) as Record<string, unknown>,
          strict: f.strict,
        }),
      }
  }
}

/** A token budget for thinking, as OpenAI's effort levels (Gemini/Anthropic clients give budgets). */
const effortOf = (r: Chat.ReasoningConfig): Chat.ReasoningEffort | undefined => {
  if (r.effort !== undefined) return r.effort
  if (r.budgetTokens === undefined) return undefined
  if (r.budgetTokens <= 0) return "none"
  return r.budgetTokens <= 2048 ? "low" : r.budgetTokens <= 16384 ? "medium" : "high"
}

export type WireRequest = Wire.ChatCompletionRequest & Record<string, unknown>

/** Canonical → the body for an OpenAI-format upstream (`model` is already the upstream model). */
export const encode = (chat: ChatRequest, dialect: Dialect): WireRequest => {
  const tools = chat.tools ?? []
  const hasTools = tools.length > 0
  const effortLevel = chat.reasoning === undefined ? undefined : effortOf(chat.reasoning)
  const known = compact<Wire.ChatCompletionRequest>({
    model: chat.model,
    messages: wireMessages(chat.messages, dialect),
    tools: hasTools
      ? tools.map((t) => ({
          type: "function" as const,
          function: compact<Wire.FunctionTool["function"]>({
            name: t.name,
            description: t.description,
            parameters: (t.parameters ?? { type: "object", properties: {} }) as Record<string, unknown>,
            strict: t.strict,
          }),
        }))
      : undefined,
    // OpenAI rejects tool_choice and parallel_tool_calls without tools.
    tool_choice: hasTools && chat.toolChoice !== undefined ? wireToolChoice(chat.toolChoice) : undefined,
    parallel_tool_calls: hasTools ? chat.parallelToolCalls : undefined,
    response_format: chat.responseFormat === undefined ? undefined : wireResponseFormat(chat.responseFormat),
    max_completion_tokens: dialect.maxTokensField === "max_completion_tokens" ? chat.maxTokens : undefined,
    max_tokens: dialect.maxTokensField === "max_tokens" ? chat.maxTokens : undefined,
    temperature: chat.temperature,
    top_p: chat.topP,
    stop: chat.stop,
    seed: chat.seed,
    n: chat.candidates,
    presence_penalty: chat.presencePenalty,
    frequency_penalty: chat.frequencyPenalty,
    reasoning_effort: dialect.reasoningEffort ? effortLevel : undefined,
    user: chat.user,
    metadata: dialect.metadata ? chat.metadata : undefined,
    stream: chat.stream ? true : undefined,
    stream_options: chat.stream && dialect.streamUsage ? { include_usage: true } : undefined,
  })
  // Fields the client sent that the codec does not model go on unchanged; modelled ones are the
  // codec's alone (an extra `stream` must not turn a JSON call into a stream).
  const passthrough: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(chat.extras?.openai ?? {})) if (!Wire.requestFields.has(k)) passthrough[k] = v
  // Image output asked in another format: the chat-completions form image-capable servers take.
  if (
    chat.output?.modalities !== undefined &&
    passthrough.modalities === undefined &&
    chat.output.modalities.includes("image")
  )
    passthrough.modalities = chat.output.modalities.filter((m) => m !== "audio")
  return { ...passthrough, ...known }
}
