/**
 * Gemini parts ⇄ canonical parts, shared by requests (contents), responses (candidate content)
 * and streams. Gemini's functionCall usually has no id; canonical tool calls always have one, so
 * ids made here carry the `gemini_fc_` prefix and are never sent back to Gemini or shown to a
 * Gemini client (which would not have had them from Google either).
 */
import { Either } from "effect"
import { Echo } from "@sluice/core"
import { Errors, type Part, type Parts } from "@sluice/schema"
import type * as Wire from "./Wire.ts"

/** The outgoing Part shape (what Google sends and accepts). */
export interface WirePart {
  text?: string
  thought?: boolean
  thoughtSignature?: string
  inlineData?: { mimeType: string; data: string }
  fileData?: { mimeType?: string; fileUri: string }
  functionCall?: { id?: string; name: string; args: Record<string, unknown> }
  functionResponse?: {
    id?: string
    name: string
    response: Record<string, unknown>
    parts?: Array<{
      inlineData?: { mimeType: string; data: string }
      fileData?: { mimeType?: string; fileUri: string }
    }>
  }
}

export const syntheticPrefix = "gemini_fc_"

export const isSynthetic = (id: string): boolean => id.startsWith(syntheticPrefix)

/** The id to show Gemini: none when the gateway made it up. */
export const wireId = (id: string): string | undefined => (isSynthetic(id) ? undefined : id)

const isObj = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

// ---- Gemini → canonical -----------------------------------------------------------------------

const dataFields = [
  "text",
  "inlineData",
  "fileData",
  "functionCall",
  "functionResponse",
  "executableCode",
  "codeExecutionResult",
] as const

/**
 * Matches function responses to the calls they answer: by id when both have one, else the
 * oldest unanswered call of the same name (Gemini's own rule: responses follow calls in order).
 */
export class CallLedger {
  private readonly open = new Map<string, Array<string>>()
  call(name: string, id: string): void {
    const list = this.open.get(name)
    if (list === undefined) this.open.set(name, [id])
    else list.push(id)
  }
  answer(name: string, id: string | undefined): string | undefined {
    const list = this.open.get(name)
    if (id !== undefined) {
      const at = list?.indexOf(id) ?? -1
      if (at >= 0) list!.splice(at, 1)
      return id
    }
    return list?.shift()
  }
}

const mediaOf = (p: {
  inlineData?: Wire.Part["inlineData"]
  fileData?: Wire.Part["fileData"]
}): Parts.ImagePart | undefined => {
  if (p.inlineData !== undefined)
    return { type: "image", source: { kind: "base64", mediaType: p.inlineData.mimeType, data: p.inlineData.data } }
  if (p.fileData !== undefined)
    return {
      type: "image",
      source:
        p.fileData.mimeType === undefined
          ? { kind: "url", url: p.fileData.fileUri }
          : { kind: "url", url: p.fileData.fileUri, mediaType: p.fileData.mimeType },
    }
  return undefined
}

/** The fields a function response commonly wraps its result in (Google documents `output`). */
const wrappers = ["output", "result", "content"] as const

/**
 * A function response's object as canonical content. The common wrappers — one of `output`,
 * `result`, `content` (beside an optional `name`) — give their string as plain text, so a file a
 * tool read reaches another format's model with real newlines; `error` makes an error result;
 * anything else is sent as JSON.
 */
export const resultContent = (response: Record<string, unknown>): { text: string; isError: boolean } => {
  const keys = Object.keys(response).filter((k) => k !== "name")
  if (keys.length === 1) {
    const key = keys[0]!
    const value = response[key]
    if (key === "error" && value !== undefined)
      return { text: typeof value === "string" ? value : JSON.stringify(value), isError: true }
    if ((wrappers as ReadonlyArray<string>).includes(key) && value !== undefined)
      return { text: typeof value === "string" ? value : JSON.stringify(value), isError: false }
  }
  if (response.error !== undefined && wrappers.every((w) => response[w] === undefined))
    return { text: typeof response.error === "string" ? response.error : JSON.stringify(response), isError: true }
  return { text: JSON.stringify(response), isError: false }
}

export interface DecodeOptions {
  /** Where the parts sit, for error messages (`contents[2].parts`). */
  readonly path: string
  readonly ledger: CallLedger
  /** Makes an id for a functionCall without one (`n` counts calls in this message). */
  readonly makeId: (n: number) => string
  /**
   * Answers only: show code-execution parts (from the pass-through codeExecution tool) as
   * Markdown text, the one form every client and the next turn can carry.
   */
  readonly codeAsText?: boolean
}

/** executableCode / codeExecutionResult as Markdown, or undefined for other parts. */
export const codeText = (p: Wire.Part): string | undefined => {
  if (p.executableCode !== undefined) {
    const lang = typeof p.executableCode.language === "string" ? p.executableCode.language.toLowerCase() : ""
    return `\n\`\`\`${lang}\n${String(p.executableCode.code ?? "")}\n\`\`\`\n`
  }
  if (p.codeExecutionResult !== undefined)
    return `\n\`\`\`output\n${String(p.codeExecutionResult.output ?? "")}\n\`\`\`\n`
  return undefined
}

/** Decode one Content's parts. */
export const decode = (
  parts: ReadonlyArray<Wire.Part>,
  options: DecodeOptions,
): Either.Either<Array<Part>, Errors.InvalidRequest> => {
  const out: Array<Part> = []
  let calls = 0
  for (let j = 0; j < parts.length; j++) {
    const p = parts[j]!
    const where = `${options.path}[${j}]`
    const set = dataFields.filter((f) => p[f] !== undefined)
    if (set.length === 0 && p.thoughtSignature !== undefined) {
      // Google sends (and accepts back) a signature on an empty part.
      out.push({ type: "text", text: "", signature: p.thoughtSignature })
      continue
    }
    if (set.length !== 1)
      return Either.left(
        new Errors.InvalidRequest({
          message:
            set.length === 0
              ? `Invalid value at '${where}': required oneof field 'data' must have one initialized field`
              : `Invalid value at '${where}': oneof field 'data' is already set (${set.join(", ")})`,
          param: where,
        }),
      )
    const field = set[0]!
    const sig = p.thoughtSignature
    switch (field) {
      case "text":
        if (p.thought === true)
          out.push(
            sig === undefined
              ? { type: "reasoning", text: p.text! }
              : { type: "reasoning", text: p.text!, signature: sig },
          )
        else
          out.push(
            sig === undefined ? { type: "text", text: p.text! } : { type: "text", text: p.text!, signature: sig },
          )
        break
      case "inlineData":
      case "fileData": {
        // Thought images are an image model's interim drafts: not part of the answer.
        if (p.thought === true && options.codeAsText === true) break
        const m = mediaOf(p)!
        out.push(sig === undefined ? m : { ...m, signature: sig })
        break
      }
      case "functionCall": {
        const fc = p.functionCall!
        const id = fc.id ?? options.makeId(calls)
        calls++
        options.ledger.call(fc.name, id)
        const call: Parts.ToolCallPart = {
          type: "tool_call",
          id,
          name: fc.name,
          arguments: JSON.stringify(fc.args ?? {}),
        }
        out.push(sig === undefined ? call : { ...call, signature: sig })
        break
      }
      case "functionResponse": {
        const fr = p.functionResponse!
        const id =
          options.ledger.answer(fr.name, fr.id) ?? `${syntheticPrefix}orphan_${fr.name.replace(/[^A-Za-z0-9_-]/g, "_")}`
        const { text, isError } = resultContent(fr.response)
        const content: Array<Parts.TextPart | Parts.ImagePart> = [{ type: "text", text }]
        for (const extra of fr.parts ?? []) {
          const media = mediaOf(extra)
          if (media !== undefined) content.push(media)
        }
        const result: Parts.ToolResultPart = {
          type: "tool_result",
          id,
          name: fr.name,
          content,
          structured: fr.response,
        }
        out.push(isError ? { ...result, isError: true } : result)
        break
      }
      default: {
        const code = options.codeAsText === true ? codeText(p) : undefined
        if (code !== undefined) {
          out.push({ type: "text", text: code })
          break
        }
        return Either.left(
          new Errors.InvalidRequest({
            message: `'${where}.${Echo.cap(field)}' parts are not supported by this gateway`,
            param: `${where}.${Echo.cap(field)}`,
          }),
        )
      }
    }
  }
  return Either.right(out)
}

// ---- canonical → Gemini -----------------------------------------------------------------------

const dataUrl = /^data:([^;,]+)?(?:;[^;,]*)*;base64,(.*)$/s

const extensionTypes: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  pdf: "application/pdf",
  mp3: "audio/mp3",
  wav: "audio/wav",
  mp4: "video/mp4",
  txt: "text/plain",
}

const guessType = (url: string): string | undefined => {
  const ext = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase()
  return ext === undefined ? undefined : extensionTypes[ext]
}

/** Audio types under the names Gemini documents (`audio/mp3`, `audio/wav`), others as given. */
const geminiAudio: Record<string, string> = {
  "audio/mpeg": "audio/mp3",
  "audio/x-wav": "audio/wav",
  "audio/wave": "audio/wav",
  "audio/x-flac": "audio/flac",
  "audio/x-aiff": "audio/aiff",
}

export const media = (source: Parts.MediaSource): WirePart => {
  if (source.kind === "base64")
    return { inlineData: { mimeType: geminiAudio[source.mediaType] ?? source.mediaType, data: source.data } }
  const m = dataUrl.exec(source.url)
  if (m !== null)
    return { inlineData: { mimeType: m[1] ?? source.mediaType ?? "application/octet-stream", data: m[2]! } }
  const mimeType = source.mediaType ?? guessType(source.url)
  return { fileData: mimeType === undefined ? { fileUri: source.url } : { mimeType, fileUri: source.url } }
}

/** Parse a tool call's JSON arguments into the object Gemini wants. */
export const argsOf = (args: string): Either.Either<Record<string, unknown>, string> => {
  if (args.trim() === "") return Either.right({})
  try {
    const v = JSON.parse(args) as unknown
    return isObj(v) ? Either.right(v) : Either.left("the arguments are not a JSON object")
  } catch {
    return Either.left("the arguments are not valid JSON")
  }
}

const withSig = (part: WirePart, signature: string | undefined): WirePart =>
  signature === undefined ? part : { ...part, thoughtSignature: signature }

/** The response object of a function result: the client's structured value, else output/error. */
export const responseOf = (p: Parts.ToolResultPart): Record<string, unknown> => {
  if (isObj(p.structured)) return p.structured
  const text = p.content.map((c) => (c.type === "text" ? c.text : "")).join("")
  if (p.structured !== undefined) return { output: p.structured }
  return p.isError === true ? { error: text } : { output: text }
}

/**
 * Encode canonical parts. Empty text without a signature is dropped (Gemini rejects it);
 * redacted reasoning (Anthropic's opaque payload) has no Gemini form and is dropped too.
 */
export const encode = (parts: ReadonlyArray<Part>): Either.Either<Array<WirePart>, string> => {
  const out: Array<WirePart> = []
  for (const p of parts) {
    switch (p.type) {
      case "text":
        if (p.text === "" && p.signature === undefined) break
        out.push(withSig({ text: p.text }, p.signature))
        break
      case "reasoning":
        if (p.text === "" && p.signature === undefined) break
        if (p.redacted !== undefined && p.text === "") break
        out.push(withSig({ text: p.text, thought: true }, p.signature))
        break
      case "image":
        out.push(withSig(media(p.source), p.signature))
        break
      case "tool_call": {
        const args = argsOf(p.arguments)
        if (Either.isLeft(args)) return Either.left(`tool call "${Echo.cap(p.name)}": ${args.left}`)
        const id = wireId(p.id)
        out.push(
          withSig(
            {
              functionCall:
                id === undefined ? { name: p.name, args: args.right } : { id, name: p.name, args: args.right },
            },
            p.signature,
          ),
        )
        break
      }
      case "tool_result": {
        const id = wireId(p.id)
        const extra = p.content.filter((c) => c.type === "image").map((c) => media(c.source))
        const fr: NonNullable<WirePart["functionResponse"]> = { name: p.name, response: responseOf(p) }
        if (id !== undefined) fr.id = id
        if (extra.length > 0) fr.parts = extra as NonNullable<typeof fr.parts>
        out.push({ functionResponse: fr })
        break
      }
    }
  }
  return Either.right(out)
}
