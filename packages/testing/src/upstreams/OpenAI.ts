/**
 * A mock OpenAI-format upstream, written by hand from OpenAI's API reference (and DeepSeek's for
 * its flavour) — not with any Sluice codec, so tests through it can fail.
 *
 * Endpoints under `prefix` (default `/v1`): POST /chat/completions (JSON, or SSE with
 * `data: [DONE]`), POST /embeddings (float or base64), POST /images/generations, POST /images/edits
 * (OpenAIImages.ts), POST /audio/speech, POST /audio/transcriptions (OpenAIAudio.ts), GET /models,
 * GET /models/{id}.
 *
 * Directives in the last user message script it:
 * - `fail:429` / `fail:500` (any status) → an error in OpenAI's shape (429 with retry-after);
 * - `delay:50` → waits that long before the answer and between chunks;
 * - `reset-stream` → sends two chunks, then resets the connection;
 * - `stream-error` → sends a chunk, then a `data: {"error":…}` frame;
 * - naming offered tools → calls each named tool (parallel calls, arguments streamed in pieces);
 * - `call:<tool>:{"a":"b"}` → calls that tool with exactly those (flat JSON) arguments;
 * - after tool results → answers `results: <each result>`.
 * Otherwise it answers `echo: <text>`. It refuses what OpenAI refuses in a tool loop: a tool message
 * whose tool_call_id answers no call of the assistant message before it, a call left unanswered,
 * and a call id longer than 40 characters. The `deepseek` flavour adds `reasoning_content` (reasoning
 * first, streamed too), DeepSeek's cache usage fields, and — as DeepSeek does — answers 400 when
 * an input message carries `reasoning_content`.
 */
import type * as Http from "node:http"
import * as MockUpstream from "../MockUpstream.ts"
import * as Audio from "./OpenAIAudio.ts"
import * as Images from "./OpenAIImages.ts"

export interface Options {
  /** Path prefix of the API: `/v1` for OpenAI, `` for DeepSeek's base URL. */
  readonly prefix?: string
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string
  readonly flavor?: "openai" | "deepseek"
  /** Models it serves; any other model is a 404 `model_not_found`. */
  readonly models?: ReadonlyArray<string>
}

export interface OpenAIUpstream extends MockUpstream.MockUpstream {
  /** What to give the gateway as `baseUrl`. */
  readonly baseUrl: string
  /** Bodies of the chat completion requests received, in order. */
  readonly chatBodies: () => Array<Record<string, unknown>>
}

const defaultModels = [
  "gpt-4o-mini",
  "gpt-4o",
  "deepseek-chat",
  "deepseek-reasoner",
  "text-embedding-3-small",
  "local-model",
]

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type Json = Record<string, unknown>

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const sendError = (
  res: Http.ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
  headers: Record<string, string> = {},
) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify({ error: { message, type, param, code } }))
}

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content.map((p) => (isObject(p) && p.type === "text" && typeof p.text === "string" ? p.text : "")).join("")
}

const tokens = (s: string) => Math.ceil(s.length / 4)

/** Sample arguments from a JSON Schema's properties, long enough to arrive in several pieces. */
const sampleArgs = (parameters: unknown): string => {
  const out: Json = {}
  const props = isObject(parameters) && isObject(parameters.properties) ? parameters.properties : {}
  for (const [key, schema] of Object.entries(props)) {
    const t = isObject(schema) ? schema.type : undefined
    out[key] = t === "number" || t === "integer" ? 42 : t === "boolean" ? true : `value of ${key}`
  }
  return JSON.stringify(out)
}

const pieces = (s: string, size: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size))
  return out.length > 0 ? out : [""]
}

let counter = 0

interface Answer {
  readonly reasoning: string | undefined
  readonly text: string | undefined
  readonly calls: ReadonlyArray<{ id: string; name: string; arguments: string }>
}

const dataUrl = /^data:[\w.+-]+\/[\w.+-]+;base64,[A-Za-z0-9+/]*={0,2}$/

/** A user message's content parts as OpenAI checks them (types, file and image sources). */
const contentProblem = (content: ReadonlyArray<unknown>, i: number): [string, string] | undefined => {
  for (const [j, p] of content.entries()) {
    const at = `messages[${i}].content[${j}]`
    if (!isObject(p)) return [`Invalid type for '${at}'`, at]
    switch (p.type) {
      case "text":
        if (typeof p.text !== "string") return [`Missing required parameter: '${at}.text'.`, `${at}.text`]
        break
      case "image_url": {
        const url = isObject(p.image_url) ? p.image_url.url : undefined
        if (typeof url !== "string" || !(/^https?:\/\//.test(url) || dataUrl.test(url)))
          return [`Invalid '${at}.image_url.url': expected a URL or a base64 data URL.`, `${at}.image_url.url`]
        break
      }
      case "input_audio":
        if (!isObject(p.input_audio) || typeof p.input_audio.data !== "string")
          return [`Missing required parameter: '${at}.input_audio.data'.`, `${at}.input_audio.data`]
        break
      case "file": {
        const f = isObject(p.file) ? p.file : undefined
        if (f === undefined || (f.file_id === undefined && f.file_data === undefined))
          return [`Missing required parameter: '${at}.file.file_id' or '${at}.file.file_data'.`, `${at}.file`]
        if (f.file_data !== undefined) {
          if (typeof f.file_data !== "string" || !dataUrl.test(f.file_data))
            return [`Invalid '${at}.file.file_data': expected a base64 data URL.`, `${at}.file.file_data`]
          if (typeof f.filename !== "string" || f.filename === "")
            return [`Missing required parameter: '${at}.file.filename'.`, `${at}.file.filename`]
        }
        break
      }
      default:
        return [
          `Invalid value: '${String(p.type)}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'.`,
          `${at}.type`,
        ]
    }
  }
  return undefined
}

/** OpenAI's own request checks that a gateway could get wrong. */
const validate = (body: Json, flavor: "openai" | "deepseek"): [string, string | null] | undefined => {
  if (typeof body.model !== "string") return ["you must provide a model parameter", null]
  const messages = body.messages
  if (!Array.isArray(messages) || messages.length === 0)
    return ["'messages' must contain at least one message", "messages"]
  const open = new Set<string>()
  /** Calls of the last assistant message not answered yet: OpenAI wants every one answered. */
  const pending = new Set<string>()
  const unanswered = (i: number): [string, string] => [
    `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending].join(", ")}`,
    `messages.[${i}].role`,
  ]
  for (const [i, m] of messages.entries()) {
    if (!isObject(m)) return [`Invalid type for 'messages[${i}]'`, `messages[${i}]`]
    if (m.role !== "tool" && pending.size > 0) return unanswered(i)
    if (flavor === "deepseek" && "reasoning_content" in m) {
      return [
        "The reasoning_content is an intermediate result for display purposes only and will not be included in the context for inference. Please remove the reasoning_content from your input messages.",
        `messages[${i}]`,
      ]
    }
    if (m.role === "assistant" && Array.isArray(m.tool_calls)) {
      open.clear()
      for (const [j, c] of m.tool_calls.entries()) {
        if (!isObject(c) || typeof c.id !== "string") continue
        if (c.id.length > 40)
          return [
            `Invalid 'messages[${i}].tool_calls[${j}].id': string too long. Expected a string with maximum length 40, but got a string with length ${c.id.length} instead.`,
            `messages[${i}].tool_calls[${j}].id`,
          ]
        open.add(c.id)
        pending.add(c.id)
      }
    } else if (m.role === "tool") {
      if (typeof m.tool_call_id === "string") pending.delete(m.tool_call_id)
      if (typeof m.tool_call_id !== "string" || !open.has(m.tool_call_id)) {
        return [
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${i}].role`,
        ]
      }
    } else if (m.role === "user" && Array.isArray(m.content)) {
      const bad = contentProblem(m.content, i)
      if (bad !== undefined) return bad
    } else if (m.role !== "system" && m.role !== "developer" && m.role !== "user" && m.role !== "assistant") {
      return [
        `Invalid value: '${String(m.role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `messages[${i}].role`,
      ]
    }
  }
  if (pending.size > 0) return unanswered(messages.length)
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0
  if (!hasTools && body.parallel_tool_calls !== undefined)
    return ["Invalid value for 'parallel_tool_calls': only allowed when 'tools' are specified.", "parallel_tool_calls"]
  if (!hasTools && body.tool_choice !== undefined)
    return ["Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"]
  return undefined
}

const plan = (body: Json, flavor: "openai" | "deepseek"): Answer => {
  const messages = body.messages as Array<Json>
  const last = messages[messages.length - 1]!
  const lastUser = [...messages].reverse().find((m) => m.role === "user")
  const prompt = lastUser ? textOf(lastUser.content) : ""
  const reasoning = flavor === "deepseek" ? `Reasoning about: ${prompt}` : undefined
  if (last.role === "tool") {
    const results: Array<string> = []
    for (let i = messages.length - 1; i >= 0 && messages[i]!.role === "tool"; i--)
      results.unshift(textOf(messages[i]!.content))
    return { reasoning, text: `results: ${results.join("; ")}`, calls: [] }
  }
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObject) : []
  const calls = []
  // `call:<tool>:{json}` asks for a call with exactly these arguments (a flat JSON object).
  const offered = new Set(tools.map((t) => (isObject(t.function) ? t.function.name : undefined)))
  for (const m of prompt.matchAll(/\bcall:([A-Za-z_][\w-]*):(\{[^{}]*\})/g))
    if (offered.has(m[1]) && body.tool_choice !== "none")
      calls.push({ id: `call_${(counter++).toString(36)}${m[1]!.length}x`, name: m[1]!, arguments: m[2]! })
  if (calls.length > 0) return { reasoning, text: undefined, calls }
  if (body.tool_choice !== "none") {
    for (const t of tools) {
      const fn = isObject(t.function) ? t.function : {}
      const name = typeof fn.name === "string" ? fn.name : ""
      if (name !== "" && prompt.includes(name)) {
        calls.push({
          id: `call_${(counter++).toString(36)}${name.length}x`,
          name,
          arguments: sampleArgs(fn.parameters),
        })
      }
    }
  }
  return calls.length > 0 ? { reasoning, text: undefined, calls } : { reasoning, text: `echo: ${prompt}`, calls: [] }
}

const usageOf = (body: Json, a: Answer, flavor: "openai" | "deepseek") => {
  const prompt = tokens(JSON.stringify(body.messages))
  const reasoning = a.reasoning === undefined ? 0 : tokens(a.reasoning)
  const completion = reasoning + tokens(a.text ?? "") + tokens(a.calls.map((c) => c.name + c.arguments).join(""))
  const cached = Math.floor(prompt / 2)
  const base = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    completion_tokens_details: { reasoning_tokens: reasoning },
  }
  return flavor === "deepseek"
    ? { ...base, prompt_cache_hit_tokens: cached, prompt_cache_miss_tokens: prompt - cached }
    : { ...base, prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 } }
}

const chat =
  (options: Options): MockUpstream.Responder =>
  async (req, res) => {
    const flavor = options.flavor ?? "openai"
    const body = isObject(req.body) ? req.body : {}
    const problem = validate(body, flavor)
    if (problem) return sendError(res, 400, problem[0], "invalid_request_error", null, problem[1])
    const models = options.models ?? defaultModels
    if (!models.includes(body.model as string)) {
      return sendError(
        res,
        404,
        `The model \`${String(body.model)}\` does not exist or you do not have access to it.`,
        "invalid_request_error",
        "model_not_found",
      )
    }
    const messages = body.messages as Array<Json>
    const lastUser = [...messages].reverse().find((m) => m.role === "user")
    const prompt = lastUser ? textOf(lastUser.content) : ""
    const fail = /\bfail:(\d{3})\b/.exec(prompt)
    if (fail) {
      const status = Number(fail[1])
      if (status === 429)
        return sendError(res, 429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", null, {
          "retry-after": "2",
        })
      return status >= 500
        ? sendError(res, status, "The server had an error while processing your request.", "server_error", null)
        : sendError(res, status, `mock failure ${status}`, "invalid_request_error", null)
    }
    const delay = Number(/\bdelay:(\d+)\b/.exec(prompt)?.[1] ?? 0)
    const answer = plan(body, flavor)
    const id = `chatcmpl-mock${(counter++).toString(36)}`
    const created = Math.floor(Date.now() / 1000)
    const model = body.model as string
    if (delay > 0) await sleep(delay)

    if (body.stream !== true) {
      const message: Json = {
        role: "assistant",
        content: answer.text ?? null,
        refusal: null,
        annotations: [],
      }
      if (answer.reasoning !== undefined) message.reasoning_content = answer.reasoning
      if (answer.calls.length > 0)
        message.tool_calls = answer.calls.map((c) => ({
          id: c.id,
          type: "function",
          function: { name: c.name, arguments: c.arguments },
        }))
      res.writeHead(200, { "content-type": "application/json", "x-request-id": `req_${id}` })
      res.end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model,
          choices: [
            { index: 0, message, logprobs: null, finish_reason: answer.calls.length > 0 ? "tool_calls" : "stop" },
          ],
          usage: usageOf(body, answer, flavor),
          system_fingerprint: "fp_mock",
        }),
      )
      return
    }

    const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true
    const chunk = (delta: Json, finish: string | null = null): string =>
      `data: ${JSON.stringify({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        system_fingerprint: "fp_mock",
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(includeUsage ? { usage: null } : {}),
      })}\n\n`
    const frames: Array<string> = []
    frames.push(
      chunk(
        flavor === "deepseek"
          ? { role: "assistant", content: null, reasoning_content: "" }
          : { role: "assistant", content: "", refusal: null },
      ),
    )
    if (answer.reasoning !== undefined)
      for (const p of pieces(answer.reasoning, 6)) frames.push(chunk({ content: null, reasoning_content: p }))
    if (answer.text !== undefined) for (const p of pieces(answer.text, 5)) frames.push(chunk({ content: p }))
    answer.calls.forEach((c, index) => {
      frames.push(
        chunk({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] }),
      )
      for (const p of pieces(c.arguments, 7))
        frames.push(chunk({ tool_calls: [{ index, function: { arguments: p } }] }))
    })
    frames.push(chunk({}, answer.calls.length > 0 ? "tool_calls" : "stop"))
    if (includeUsage)
      frames.push(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_mock", choices: [], usage: usageOf(body, answer, flavor) })}\n\n`,
      )
    frames.push("data: [DONE]\n\n")

    if (prompt.includes("reset-stream")) return MockUpstream.resetAfter(frames.slice(0, 2))(req, res)
    if (prompt.includes("stream-error")) {
      const error = {
        error: {
          message: "The server had an error while processing your request.",
          type: "server_error",
          param: null,
          code: null,
        },
      }
      return MockUpstream.sse([...frames.slice(0, 2), `data: ${JSON.stringify(error)}\n\n`])(req, res)
    }
    return MockUpstream.sse(frames, { delayMs: delay })(req, res)
  }

const hash = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

/** A deterministic vector per text, so tests can compare what they got. */
export const vectorFor = (text: string, dims = 8): Array<number> => {
  const out: Array<number> = []
  for (let i = 0; i < dims; i++) out.push(((hash(`${i}:${text}`) % 2000) - 1000) / 1000)
  return out
}

const embeddings =
  (options: Options): MockUpstream.Responder =>
  (req, res) => {
    const body = isObject(req.body) ? req.body : {}
    const models = options.models ?? defaultModels
    if (typeof body.model !== "string" || !models.includes(body.model))
      return sendError(
        res,
        404,
        `The model \`${String(body.model)}\` does not exist or you do not have access to it.`,
        "invalid_request_error",
        "model_not_found",
      )
    const inputs = typeof body.input === "string" ? [body.input] : Array.isArray(body.input) ? body.input : undefined
    if (inputs === undefined || inputs.length === 0 || !inputs.every((i) => typeof i === "string"))
      return sendError(
        res,
        400,
        "'input' must be a string or an array of strings",
        "invalid_request_error",
        null,
        "input",
      )
    const dims = typeof body.dimensions === "number" ? body.dimensions : 8
    const data = (inputs as Array<string>).map((text, index) => {
      const v = vectorFor(text, dims)
      if (body.encoding_format !== "base64") return { object: "embedding", index, embedding: v }
      const buf = Buffer.alloc(v.length * 4)
      for (const [i, x] of v.entries()) buf.writeFloatLE(x, i * 4)
      return { object: "embedding", index, embedding: buf.toString("base64") }
    })
    const promptTokens = (inputs as Array<string>).reduce((n, t) => n + tokens(t), 0)
    // Answer out of order: clients must sort by index.
    data.reverse()
    MockUpstream.json(200, {
      object: "list",
      data,
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    })(req, res)
  }

export const start = async (options: Options = {}): Promise<OpenAIUpstream> => {
  const up = await MockUpstream.start()
  const prefix = options.prefix ?? "/v1"
  const models = options.models ?? defaultModels
  const authorized =
    (responder: MockUpstream.Responder): MockUpstream.Responder =>
    (req, res) => {
      if (options.apiKey !== undefined) {
        const given = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1]
        if (given !== options.apiKey) {
          const masked = given === undefined ? "" : `${given.slice(0, 3)}*****${given.slice(-4)}`
          return sendError(
            res,
            401,
            given === undefined
              ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
              : `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
            "invalid_request_error",
            "invalid_api_key",
          )
        }
      }
      return responder(req, res)
    }
  up.on("POST", `${prefix}/chat/completions`, authorized(chat(options)))
  up.on("POST", `${prefix}/embeddings`, authorized(embeddings(options)))
  up.on("POST", `${prefix}/images/generations`, authorized(Images.generations))
  up.on("POST", `${prefix}/images/edits`, authorized(Images.edits))
  up.on("POST", `${prefix}/audio/speech`, authorized(Audio.speech))
  up.on("POST", `${prefix}/audio/transcriptions`, authorized(Audio.transcriptions))
  up.on(
    "GET",
    `${prefix}/models`,
    authorized(
      MockUpstream.json(200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "mock" })),
      }),
    ),
  )
  up.on(
    "GET",
    new RegExp(`^${prefix}/models/.+`),
    authorized((req, res) => {
      const id = decodeURIComponent(req.path.slice(`${prefix}/models/`.length))
      if (!models.includes(id))
        return sendError(
          res,
          404,
          `The model '${id}' does not exist`,
          "invalid_request_error",
          "model_not_found",
          "model",
        )
      MockUpstream.json(200, { id, object: "model", created: 1_700_000_000, owned_by: "mock" })(req, res)
    }),
  )
  return {
    ...up,
    baseUrl: `${up.url}${prefix}`,
    chatBodies: () =>
      up.requests.filter((r) => r.path === `${prefix}/chat/completions` && isObject(r.body)).map((r) => r.body as Json),
  }
}
