/**
 * The Responses API ⇄ canonical: request items (messages, function_call, function_call_output,
 * reasoning) → a ChatRequest, and a canonical answer → a `response` object whose output items
 * are reasoning, message and function_call items.
 */
import { Either } from "effect"
import { Echo } from "@sluice/core"
import {
  CallId,
  type Chat,
  type ChatRequest,
  type ChatResponse,
  type Errors,
  type FinishReason,
  type Message,
  type Part,
  type Parts,
  type Usage,
} from "@sluice/schema"
import { badField, compact, decode as decodeWith, invalid, isRecord, unknownFields } from "./Decode.ts"
import * as Media from "./Media.ts"
import * as W from "./ResponsesWire.ts"

/** Built once: a decoder per call would build the schema's parser every time. */
const decodeResponsesRequest = decodeWith(W.ResponsesRequest)

// ---- request --------------------------------------------------------------------------------

type Result<A> = Either.Either<A, Errors.InvalidRequest>

const mediaPart = (url: string, param: string): Result<Part> => {
  if (Media.isHttpUrl(url)) return Either.right({ type: "image", source: { kind: "url", url } })
  const d = Media.parseDataUrl(url)
  return d === undefined
    ? Either.left(badField(param, "expected an http(s) URL or a base64 data: URL"))
    : Either.right({ type: "image", source: { kind: "base64", mediaType: d.mediaType, data: d.data } })
}

const contentPart = (c: W.MessageContent, param: string): Result<Part> => {
  switch (c.type) {
    case "input_text":
    case "output_text":
      return Either.right({ type: "text", text: c.text })
    case "refusal":
      return Either.right({ type: "text", text: c.refusal })
    case "input_image":
      if (c.image_url == null) {
        const ref = c.file_id == null ? undefined : Media.fileRef(c.file_id)
        if (ref !== undefined) return Either.right(ref)
        return Either.left(
          badField(`${param}.file_id`, "send image_url or the file_id of a file uploaded to this gateway's /v1/files"),
        )
      }
      return mediaPart(c.image_url, `${param}.image_url`)
    case "input_file":
      if (c.file_data !== undefined) return mediaPart(c.file_data, `${param}.file_data`)
      if (c.file_url !== undefined) return mediaPart(c.file_url, `${param}.file_url`)
      {
        const ref = c.file_id == null ? undefined : Media.fileRef(c.file_id)
        if (ref !== undefined) return Either.right(ref)
      }
      return Either.left(
        badField(`${param}.file_id`, "send file_data or the file_id of a file uploaded to this gateway's /v1/files"),
      )
  }
}

const contentParts = (content: string | ReadonlyArray<W.MessageContent>, param: string): Result<Array<Part>> => {
  if (typeof content === "string") return Either.right([{ type: "text", text: content }])
  const out: Array<Part> = []
  for (const [j, c] of content.entries()) {
    const p = contentPart(c, `${param}.content[${j}]`)
    if (Either.isLeft(p)) return Either.left(p.left)
    out.push(p.right)
  }
  return Either.right(out)
}

/** Items → turns; `paramOf(i)` names item i in errors (`input[i]`, or the earlier response it came from). */
const toMessages = (
  input: ReadonlyArray<W.InputItem>,
  paramOf: (i: number) => string = (i) => `input[${i}]`,
): Result<Array<Message>> => {
  const out: Array<Message> = []
  const names = new Map<string, string>()
  /** Append to the current turn of `role`, or open one: a function_call after a message is one turn. */
  const append = (role: Message["role"], parts: ReadonlyArray<Part>) => {
    const last = out[out.length - 1]
    if (last?.role === role && role !== "system") out[out.length - 1] = { ...last, parts: [...last.parts, ...parts] }
    else out.push({ role, parts })
  }
  for (const [i, item] of input.entries()) {
    const param = paramOf(i)
    switch (item.type) {
      case undefined:
      case "message": {
        const parts = contentParts(item.content, param)
        if (Either.isLeft(parts)) return Either.left(parts.left)
        const role = item.role === "developer" ? "system" : item.role
        if (role === "system") out.push({ role, parts: parts.right.filter((p) => p.type === "text") })
        else append(role, parts.right)
        break
      }
      case "function_call": {
        // The call_id a client was given may carry a Gemini thought signature (CallId).
        const { id, signature } = CallId.unwrap(item.call_id)
        names.set(id, item.name)
        const call: Parts.ToolCallPart = { type: "tool_call", id, name: item.name, arguments: item.arguments }
        append("assistant", [signature === undefined ? call : { ...call, signature }])
        break
      }
      case "function_call_output": {
        const callId = CallId.unwrap(item.call_id).id
        const name = names.get(callId)
        if (name === undefined) {
          return Either.left(
            badField(`${param}.call_id`, `"${Echo.cap(item.call_id)}" does not answer an earlier function_call item`),
          )
        }
        const parts = contentParts(item.output, `${param}.output`)
        if (Either.isLeft(parts)) return Either.left(parts.left)
        const content = parts.right.filter(
          (p): p is Extract<Part, { type: "text" | "image" }> => p.type === "text" || p.type === "image",
        )
        append("tool", [{ type: "tool_result", id: callId, name, content }])
        break
      }
      case "image_generation_call": {
        if (item.result != null && item.result !== "")
          append("assistant", [
            {
              type: "image",
              source: { kind: "base64", mediaType: `image/${item.output_format ?? "png"}`, data: item.result },
            },
          ])
        break
      }
      case "reasoning": {
        const text =
          item.content != null && item.content.length > 0
            ? item.content.map((c) => c.text).join("")
            : item.summary.map((s) => s.text).join("\n\n")
        append("assistant", [
          compact<Extract<Part, { type: "reasoning" }>>({
            type: "reasoning",
            text,
            signature: item.encrypted_content ?? undefined,
          }),
        ])
        break
      }
    }
  }
  return Either.right(out)
}

const toolChoice = (c: W.ToolChoice): Chat.ToolChoice => {
  if (typeof c === "string") return { mode: c }
  if (c.type === "function") return { mode: "required", allowed: [c.name] }
  return { mode: c.mode, allowed: c.tools.map((t) => t.name) }
}

const responseFormat = (f: W.TextFormat): Chat.ResponseFormat => {
  switch (f.type) {
    case "text":
      return { type: "text" }
    case "json_object":
      return { type: "json" }
    case "json_schema":
      return compact<Chat.ResponseFormat>({
        type: "json_schema",
        name: f.name,
        schema: f.schema,
        strict: f.strict ?? undefined,
      })
  }
}

/** Checks the Schema cannot express well: item and tool kinds this gateway does not serve. */
const precheck = (body: unknown): Result<void> => {
  if (!isRecord(body)) return Either.right(undefined)
  if (Array.isArray(body.input)) {
    for (const [i, item] of body.input.entries()) {
      const t = isRecord(item) ? item.type : undefined
      if (typeof t === "string" && !W.inputItemTypes.has(t)) {
        return Either.left(
          badField(`input[${i}].type`, `"${Echo.cap(String(t))}" items are not supported by this gateway`),
        )
      }
    }
  }
  if (Array.isArray(body.tools)) {
    for (const [i, tool] of body.tools.entries()) {
      const t = isRecord(tool) ? tool.type : undefined
      if (t !== "function" && t !== "image_generation") {
        return Either.left(
          badField(
            `tools[${i}].type`,
            `${JSON.stringify(t)} tools are not supported by this gateway; use function or image_generation tools`,
          ),
        )
      }
    }
  }
  if (body.conversation != null) {
    return Either.left(
      badField("conversation", "this gateway does not store conversations; send the whole conversation as input"),
    )
  }
  return Either.right(undefined)
}

export interface Decoded {
  readonly chat: ChatRequest
  /** The request as decoded, echoed back in the response object. */
  readonly request: W.ResponsesRequest
}

/** The body checked and decoded; its `input` may still hold item references. */
export const parse = (body: unknown): Result<W.ResponsesRequest> =>
  Either.gen(function* () {
    yield* precheck(body)
    return yield* Either.mapLeft(decodeResponsesRequest(body), invalid)
  })

/** The request's own input as items (a string input is one user message). */
export const requestItems = (w: W.ResponsesRequest): ReadonlyArray<W.RequestItem> =>
  typeof w.input === "string" ? [{ role: "user", content: w.input }] : w.input

export const isReference = (item: W.RequestItem): item is W.ItemReference =>
  item.type === "item_reference" || (item.type == null && !("role" in item))

/** Decode a request that carries its whole conversation (no store to resolve references against). */
export const decode = (body: unknown): Result<Decoded> =>
  Either.gen(function* () {
    const w = yield* parse(body)
    if (w.previous_response_id != null)
      return yield* Either.left(
        badField("previous_response_id", "this gateway keeps no responses; send the whole conversation as input"),
      )
    const items: Array<W.InputItem> = []
    for (const [i, item] of requestItems(w).entries()) {
      if (isReference(item))
        return yield* Either.left(
          badField(`input[${i}]`, "this gateway keeps no responses to resolve item_reference items against"),
        )
      items.push(item)
    }
    return yield* toChat(body, w, [], items)
  })

const functionTools = (w: W.ResponsesRequest): Array<Chat.Tool> | undefined => {
  const fns = (w.tools ?? []).filter((t): t is W.FunctionTool => t.type === "function")
  if (fns.length === 0) return undefined
  return fns.map((t) =>
    compact<Chat.Tool>({
      name: t.name,
      description: t.description ?? undefined,
      parameters: t.parameters ?? undefined,
      strict: t.strict ?? undefined,
    }),
  )
}

/** `WxH` → the nearest Gemini aspect ratio and size class (WIRE-MEDIA §3.5). */
export const imageShape = (size: string | null | undefined): Chat.ImageOutput => {
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(size ?? "")
  if (m === null) return {}
  const w = Number(m[1])
  const h = Number(m[2])
  const ratios = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
  let best = "1:1"
  let gap = Number.POSITIVE_INFINITY
  for (const r of ratios) {
    const [a, b] = r.split(":").map(Number) as [number, number]
    const d = Math.abs(Math.log(w / h) - Math.log(a / b))
    if (d < gap) {
      gap = d
      best = r
    }
  }
  const edge = Math.max(w, h)
  return { aspectRatio: best, size: edge <= 1024 ? "1K" : edge <= 2048 ? "2K" : "4K" }
}

/** The image_generation tool asks the model for text and images. */
const imageOutput = (w: W.ResponsesRequest): Chat.OutputConfig | undefined => {
  const tool = (w.tools ?? []).find((t): t is W.ImageGenerationTool => t.type === "image_generation")
  if (tool === undefined) return undefined
  const image = imageShape(tool.size)
  return Object.keys(image).length > 0 ? { modalities: ["text", "image"], image } : { modalities: ["text", "image"] }
}

/**
 * The canonical request: `history` (the conversation of `previous_response_id`, oldest first)
 * then the request's own items, references already resolved.
 */
export const toChat = (
  body: unknown,
  w: W.ResponsesRequest,
  history: ReadonlyArray<W.InputItem>,
  own: ReadonlyArray<W.InputItem>,
): Result<Decoded> =>
  Either.gen(function* () {
    const items = history.length === 0 ? own : [...history, ...own]
    const messages = yield* toMessages(items, (i) =>
      i < history.length ? "previous_response_id" : `input[${i - history.length}]`,
    )
    if (w.instructions) messages.unshift({ role: "system", parts: [{ type: "text", text: w.instructions }] })
    if (messages.length === 0) return yield* Either.left(badField("input", "must contain at least one item"))
    const extras = unknownFields(body, W.requestFields)
    const effort = w.reasoning?.effort
    const wantsSummary = w.reasoning?.summary != null || w.reasoning?.generate_summary != null
    const chat = compact<ChatRequest>({
      model: w.model,
      messages,
      tools: functionTools(w),
      output: imageOutput(w),
      toolChoice: w.tool_choice == null ? undefined : toolChoice(w.tool_choice),
      parallelToolCalls: w.parallel_tool_calls ?? undefined,
      maxTokens: w.max_output_tokens ?? undefined,
      temperature: w.temperature ?? undefined,
      topP: w.top_p ?? undefined,
      reasoning:
        effort == null && !wantsSummary
          ? undefined
          : compact<Chat.ReasoningConfig>({
              effort: effort == null ? undefined : effort === "xhigh" || effort === "max" ? "high" : effort,
              // An effort also asks for the thoughts, so a Gemini upstream's come back as a summary.
              includeThoughts: wantsSummary || (effort != null && effort !== "none") ? true : undefined,
            }),
      responseFormat: w.text?.format == null ? undefined : responseFormat(w.text.format),
      user: w.safety_identifier ?? w.user ?? undefined,
      metadata: w.metadata ?? undefined,
      stream: w.stream === true,
      extras: extras === undefined ? undefined : { openai_responses: extras },
    })
    return { chat, request: w }
  })

// ---- response -------------------------------------------------------------------------------

const hex = () => crypto.randomUUID().replace(/-/g, "")
export const newId = (prefix: "resp" | "msg" | "fc" | "fco" | "rs" | "ig") => `${prefix}_${hex()}`

/** A drawn image as the image_generation tool's output item. */
export const imageItem = (id: string, mediaType: string, data: string): W.ImageGenerationOutput => ({
  type: "image_generation_call",
  id,
  status: "completed",
  result: data,
  output_format: mediaType.startsWith("image/") ? mediaType.slice(6) : "png",
})

export const usage = (u: Usage): W.Usage => ({
  input_tokens: u.inputTokens,
  input_tokens_details: { cached_tokens: u.cachedInputTokens ?? 0 },
  output_tokens: u.outputTokens,
  output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  total_tokens: u.inputTokens + u.outputTokens,
})

export const statusOf = (
  f: FinishReason,
): { status: "completed" | "incomplete"; incomplete_details: W.Response["incomplete_details"] } =>
  f === "length"
    ? { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }
    : f === "content_filter" || f === "refusal"
      ? { status: "incomplete", incomplete_details: { reason: "content_filter" } }
      : { status: "completed", incomplete_details: null }

export const reasoningItem = (id: string, text: string, signature: string | undefined): W.ReasoningOutput =>
  signature === undefined
    ? { type: "reasoning", id, summary: [{ type: "summary_text", text }] }
    : { type: "reasoning", id, summary: [{ type: "summary_text", text }], encrypted_content: signature }

export const outputText = (text: string): W.OutputTextPart => ({
  type: "output_text",
  text,
  annotations: [],
  logprobs: [],
})

/** Canonical parts → output items: consecutive text joins one message item. */
export const outputItems = (parts: ReadonlyArray<Part>): Array<W.OutputItem> => {
  const out: Array<W.OutputItem> = []
  for (const p of parts) {
    const last = out[out.length - 1]
    if (p.type === "text") {
      if (last?.type === "message")
        out[out.length - 1] = { ...last, content: [outputText(last.content[0]!.text + p.text)] }
      else
        out.push({
          type: "message",
          id: newId("msg"),
          status: "completed",
          role: "assistant",
          content: [outputText(p.text)],
        })
    } else if (p.type === "reasoning") {
      out.push(reasoningItem(newId("rs"), p.text, p.signature))
    } else if (p.type === "image" && p.source.kind === "base64") {
      out.push(imageItem(newId("ig"), p.source.mediaType, p.source.data))
    } else if (p.type === "tool_call") {
      out.push({
        type: "function_call",
        id: newId("fc"),
        call_id: CallId.wrap(p.id, p.signature),
        name: p.name,
        arguments: p.arguments,
        status: "completed",
      })
    }
  }
  return out
}

/** The `response` object skeleton: the request's settings echoed, as OpenAI does. */
export const skeleton = (
  id: string,
  model: string,
  createdAt: number,
  req: W.ResponsesRequest,
  /** Whether the gateway keeps this response (echoed as `store`). */
  stored = false,
): Omit<W.Response, "status" | "output" | "usage" | "incomplete_details" | "error"> => ({
  id,
  object: "response",
  created_at: createdAt,
  instructions: req.instructions ?? null,
  max_output_tokens: req.max_output_tokens ?? null,
  model,
  parallel_tool_calls: req.parallel_tool_calls ?? true,
  previous_response_id: req.previous_response_id ?? null,
  reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.summary ?? null },
  store: stored,
  temperature: req.temperature ?? null,
  text: { format: req.text?.format ?? { type: "text" } },
  tool_choice: req.tool_choice ?? "auto",
  tools: req.tools ?? [],
  top_p: req.top_p ?? null,
  truncation: "disabled",
  user: req.user ?? null,
  metadata: req.metadata ?? {},
})

export const encode = (r: ChatResponse, req: W.ResponsesRequest, stored = false): W.Response => ({
  ...skeleton(newId("resp"), r.model, r.created, req, stored),
  ...statusOf(r.finishReason),
  error: null,
  output: outputItems(r.parts),
  usage: usage(r.usage),
})
