/**
 * The built-in `mock` provider: a deterministic model so the gateway runs (and is tested) with
 * no keys. Directives in the last user message steer it:
 * - `fail:429` / `fail:500` (any 4xx/5xx) → the upstream answers with that status;
 * - `delay:300` → waits 300 ms before the answer and between streamed chunks;
 * - naming an offered tool (or tool choice `required`) → it calls that tool;
 * - reasoning requested → a signed reasoning part comes first;
 * - image output requested (Gemini responseModalities, OpenAI images) → it draws small PNGs
 *   coloured by the prompt (`output.image.count` of them), with a caption when text is wanted too;
 * - audio output requested (OpenAI speech, Gemini AUDIO) → a short tone as 24 kHz 16-bit PCM;
 * - audio in the prompt (transcription) → `transcript: <n> bytes of <type>`;
 * - video output requested (Veo's predictLongRunning) → a tiny MP4 (MockVideo).
 * Otherwise it answers `echo: <last user text>`, then a note per attached document (its type,
 *   size and, for text, its first 200 characters).
 */
import { Chunk, Duration, Effect, Stream } from "effect"
import {
  type ChatRequest,
  type ChatResponse,
  Errors,
  type GatewayError,
  type Part,
  Parts,
  type StreamEvent,
  type Usage,
} from "@sluice/schema"
import * as Audio from "./Audio.ts"
import * as MockImage from "./MockImage.ts"
import * as MockVideo from "./MockVideo.ts"
import type { Provider, ProviderType } from "./Provider.ts"

/** What one drawn image counts as output (Gemini bills an image at a fixed token count). */
export const imageTokens = 258

/** ~4 characters a token: the mock's stand-in for a tokenizer. */
export const estimateTokens = (s: string): number => Math.ceil(s.length / 4)

const promptText = (request: ChatRequest): string => {
  let total = ""
  for (const m of request.messages) {
    for (const p of m.parts) {
      if (p.type === "text" || p.type === "reasoning") total += p.text
      else if (p.type === "tool_call") total += p.name + p.arguments
      else if (p.type === "tool_result") total += Parts.textOf(p.content) + JSON.stringify(p.structured ?? "")
    }
  }
  return total
}

const lastTurn = (request: ChatRequest) => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]!
    if (m.role === "user" || m.role === "tool") return m
  }
  return undefined
}

const sampleArguments = (schema: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (typeof schema !== "object" || schema === null) return out
  const s = schema as { properties?: Record<string, { type?: unknown }>; required?: Array<string> }
  for (const key of s.required ?? []) {
    const t = s.properties?.[key]?.type
    out[key] =
      t === "number" || t === "integer" ? 1 : t === "boolean" ? true : t === "array" ? [] : t === "object" ? {} : "mock"
  }
  return out
}

const hash = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

/**
 * What the mock says of the documents in a turn (files a request attached, gateway files put
 * inline): ` [text/plain, 11 bytes: "hello world"]` — the text of text-like ones, capped.
 */
const attachments = (parts: ReadonlyArray<Part>): string => {
  let out = ""
  for (const p of parts) {
    if (p.type !== "image" || p.source.kind !== "base64") continue
    if (/^(image|audio|video)\//.test(p.source.mediaType)) continue
    const bytes = Buffer.from(p.source.data, "base64")
    const mt = p.source.mediaType
    const textual = mt.startsWith("text/") || mt === "application/json" || mt === "application/jsonl"
    out += ` [${mt}, ${bytes.byteLength} bytes${textual ? `: ${JSON.stringify(bytes.toString("utf8").slice(0, 200))}` : ""}]`
  }
  return out
}

interface Plan {
  readonly parts: ReadonlyArray<Part>
  readonly finishReason: ChatResponse["finishReason"]
  readonly usage: Usage
  readonly delayMs: number
}

const plan = (request: ChatRequest, name: string): Effect.Effect<Plan, GatewayError> => {
  const turn = lastTurn(request)
  const prompt = turn ? Parts.textOf(turn.parts) : ""
  const fail = /\bfail[:= ](\d{3})\b/.exec(prompt)
  if (fail) {
    const status = Number(fail[1])
    return Effect.fail(
      new Errors.UpstreamError({
        message: `mock upstream answered ${status} as the prompt asked`,
        status,
        provider: name,
        ...(status === 429 ? { retryAfterSeconds: 1 } : {}),
      }),
    )
  }
  if ((request.candidates ?? 1) > 1) {
    return Effect.fail(new Errors.InvalidRequest({ message: "the mock provider answers one candidate only" }))
  }
  const delayMs = Number(/\bdelay[:= ](\d+)\b/.exec(prompt)?.[1] ?? 0)
  const parts: Array<Part> = []
  const r = request.reasoning
  if (
    r !== undefined &&
    (r.includeThoughts === true || (r.budgetTokens ?? 0) > 0 || (r.effort !== undefined && r.effort !== "none"))
  ) {
    const thought = `Thinking about: ${prompt}`
    parts.push({ type: "reasoning", text: thought, signature: `mock-sig-${hash(thought).toString(16)}` })
  }
  let finishReason: ChatResponse["finishReason"] = "stop"
  const results = turn?.parts.filter((p) => p.type === "tool_result") ?? []
  const tools = request.tools ?? []
  const mode = request.toolChoice?.mode ?? "auto"
  const allowed = request.toolChoice?.allowed
  const callable = tools.filter((t) => allowed === undefined || allowed.includes(t.name))
  const named = callable.find((t) => prompt.includes(t.name)) ?? (mode === "required" ? callable[0] : undefined)
  if (results.length > 0) {
    const summary = results
      .map((p) =>
        p.type === "tool_result"
          ? `${p.name}=${p.structured !== undefined ? JSON.stringify(p.structured) : Parts.textOf(p.content)}`
          : "",
      )
      .join(", ")
    parts.push({ type: "text", text: `tool result: ${summary}` })
  } else if (request.output?.modalities?.includes("video") === true) {
    parts.push({
      type: "image",
      source: { kind: "base64", mediaType: "video/mp4", data: MockImage.base64(MockVideo.mp4(prompt)) },
    })
  } else if (request.output?.modalities?.includes("audio") === true) {
    parts.push({
      type: "image",
      source: {
        kind: "base64",
        mediaType: `audio/L16;codec=pcm;rate=${Audio.speechRate}`,
        data: MockImage.base64(Audio.tone(prompt, 250)),
      },
    })
  } else if (heard(turn) !== undefined) {
    parts.push({ type: "text", text: heard(turn)! })
  } else if (request.output?.modalities?.includes("image") === true) {
    if (request.output.modalities.includes("text")) parts.push({ type: "text", text: `image of: ${prompt}` })
    const count = Math.min(10, Math.max(1, request.output.image?.count ?? 1))
    const given = turn?.parts.filter((p) => p.type === "image").length ?? 0
    for (let i = 0; i < count; i++)
      parts.push({
        type: "image",
        source: {
          kind: "base64",
          mediaType: "image/png",
          data: MockImage.base64(MockImage.png(`${prompt}|${given}|${i}`)),
        },
      })
  } else if (mode !== "none" && named !== undefined) {
    const args = JSON.stringify(sampleArguments(named.parameters))
    parts.push({
      type: "tool_call",
      id: `call_${hash(prompt + named.name).toString(36)}`,
      name: named.name,
      arguments: args,
    })
    finishReason = "tool_calls"
  } else {
    let answer = `echo: ${prompt}${attachments(turn?.parts ?? [])}`
    if (request.maxTokens !== undefined && estimateTokens(answer) > request.maxTokens) {
      answer = answer.slice(0, Math.max(1, request.maxTokens * 4))
      finishReason = "length"
    }
    parts.push({ type: "text", text: answer })
  }
  let outText = ""
  for (const p of parts)
    outText += p.type === "tool_call" ? p.name + p.arguments : p.type === "text" || p.type === "reasoning" ? p.text : ""
  const reasoningTokens = parts[0]?.type === "reasoning" ? estimateTokens(parts[0].text) : undefined
  const images = parts.filter((p) => p.type === "image").length
  const usage: Usage = {
    inputTokens: estimateTokens(promptText(request)),
    outputTokens: estimateTokens(outText) + images * imageTokens,
    ...(reasoningTokens !== undefined ? { reasoningTokens } : {}),
  }
  return Effect.succeed({ parts, finishReason, usage, delayMs })
}

/** What the mock "hears" in a turn's audio, if it carries any. */
const heard = (turn: ChatRequest["messages"][number] | undefined): string | undefined => {
  const audio = turn?.parts.filter(
    (p): p is Parts.ImagePart =>
      p.type === "image" && p.source.kind === "base64" && p.source.mediaType.startsWith("audio/"),
  )
  if (audio === undefined || audio.length === 0) return undefined
  return audio
    .map((p) => {
      const s = p.source as { mediaType: string; data: string }
      const pad = s.data.endsWith("==") ? 2 : s.data.endsWith("=") ? 1 : 0
      return `transcript: ${(s.data.length * 3) / 4 - pad} bytes of ${s.mediaType}`
    })
    .join("\n")
}

/** Split text into about `n` pieces on word boundaries. */
const pieces = (text: string, n: number): Array<string> => {
  const words = text.split(/(?<=\s)/)
  const per = Math.max(1, Math.ceil(words.length / n))
  const out: Array<string> = []
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(""))
  return out.length > 0 ? out : [""]
}

const toEvents = (p: Plan, id: string, model: string): Array<StreamEvent> => {
  const events: Array<StreamEvent> = [{ _tag: "start", id, model }]
  let index = 0
  for (const part of p.parts) {
    if (part.type === "text") for (const t of pieces(part.text, 4)) events.push({ _tag: "text_delta", text: t })
    else if (part.type === "reasoning") {
      const chunks = pieces(part.text, 2)
      chunks.forEach((t, i) => {
        events.push(
          i === chunks.length - 1 && part.signature !== undefined
            ? { _tag: "reasoning_delta", text: t, signature: part.signature }
            : { _tag: "reasoning_delta", text: t },
        )
      })
    } else if (part.type === "image" && part.source.kind === "base64") {
      events.push({ _tag: "image", mediaType: part.source.mediaType, data: part.source.data })
    } else if (part.type === "tool_call") {
      events.push({ _tag: "tool_call_start", index, id: part.id, name: part.name })
      const half = Math.ceil(part.arguments.length / 2)
      events.push({ _tag: "tool_call_delta", index, arguments: part.arguments.slice(0, half) })
      events.push({ _tag: "tool_call_delta", index, arguments: part.arguments.slice(half) })
      events.push({ _tag: "tool_call_end", index })
      index++
    }
  }
  events.push({ _tag: "finish", finishReason: p.finishReason, usage: p.usage })
  return events
}

let counter = 0
const nextId = () => `mock-${Date.now().toString(36)}-${(counter++).toString(36)}`

export const makeProvider = (name: string): Provider => ({
  name,
  type: "mock",
  chat: (request) =>
    Effect.flatMap(plan(request, name), (p) => {
      const response: ChatResponse = {
        id: nextId(),
        model: request.model,
        parts: p.parts,
        finishReason: p.finishReason,
        usage: p.usage,
        created: Math.floor(Date.now() / 1000),
      }
      return p.delayMs > 0 ? Effect.as(Effect.sleep(Duration.millis(p.delayMs)), response) : Effect.succeed(response)
    }),
  chatStream: (request) =>
    Stream.unwrap(
      Effect.map(plan(request, name), (p) => {
        const events = Stream.fromChunk(Chunk.unsafeFromArray(toEvents(p, nextId(), request.model)))
        return p.delayMs > 0 ? Stream.tap(events, () => Effect.sleep(Duration.millis(p.delayMs))) : events
      }),
    ),
  embed: (request) =>
    Effect.succeed({
      model: request.model,
      embeddings: request.inputs.map((text) => {
        const dims = request.dimensions ?? 8
        const out: Array<number> = []
        for (let i = 0; i < dims; i++) out.push(((hash(`${i}:${text}`) % 2000) - 1000) / 1000)
        return out
      }),
      usage: { inputTokens: request.inputs.reduce((n, t) => n + estimateTokens(t), 0) },
    }),
  countTokens: (request) => Effect.succeed(estimateTokens(promptText(request))),
  listModels: () => Effect.succeed([{ id: `${name}/mock`, provider: name, displayName: "Sluice mock model" }]),
})

export const providerType: ProviderType = {
  type: "mock",
  requiresKey: false,
  make: (name) => Effect.succeed(makeProvider(name)),
}
