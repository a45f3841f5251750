/**
 * A mock Gemini API (generativelanguage v1beta), written by hand from Google's documentation —
 * deliberately not with @sluice/gemini's codec, so tests of that codec can fail. It answers
 * generateContent, streamGenerateContent (SSE with `alt=sse`, else a JSON array; several chunks;
 * a functionCall whole in one chunk), countTokens, embedContent, batchEmbedContents and the model
 * list, and it is strict the way Google is: unknown fields, empty parts, bad roles, a wrong key,
 * JSON-Schema keywords in `parameters`, and function calls replayed without the thought
 * signature it issued are all 400s in Google's error shape.
 *
 * Image models (ids containing `-image`) draw: each answer carries one `inlineData` PNG (whose
 * colour depends on the prompt and the number of input images), after a caption unless
 * `responseModalities` is `["IMAGE"]`; IMAGE output asked of another model, an unknown modality,
 * or an `imageConfig` outside Google's documented values is a 400.
 *
 * TTS models (`-tts`) speak and audio input is transcribed: see GeminiAudio.ts.
 *
 * Default answers: a prompt naming a declared function calls it (with a thoughtSignature on the
 * first call); a turn of functionResponses is summarised; otherwise it echoes. `includeThoughts`
 * adds a thought part. Tests can script the next answers with `script`.
 */
import { createHash } from "node:crypto"
import type * as Http from "node:http"
import { deflateSync } from "node:zlib"
import * as MockUpstream from "../MockUpstream.ts"
import * as GeminiAudio from "./GeminiAudio.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export interface FunctionCallScript {
  readonly name: string
  readonly args?: Json
  readonly id?: string
}

/** One scripted answer (for the next generateContent / streamGenerateContent call). */
export type Script =
  | { readonly text: string; readonly thought?: string; readonly finishReason?: string }
  | { readonly calls: ReadonlyArray<FunctionCallScript> }
  | { readonly error: number; readonly message?: string; readonly retryDelay?: string }
  /** Exact response chunks (a non-stream answer merges them into one). */
  | { readonly chunks: ReadonlyArray<Json> }
  /** Stream these chunks, then break the connection. */
  | { readonly resetAfter: ReadonlyArray<Json> }

export interface Options {
  /** The key callers must send in x-goog-api-key (or ?key=); undefined accepts any. */
  readonly apiKey?: string
  /** Reject replayed function calls that lack the signature this mock issued (Gemini 3 rule). */
  readonly requireSignatures?: boolean
  /**
   * Accept Google's documented stand-in `skip_thought_signature_validator` on a replayed call
   * (default true, as Gemini does). False makes a test prove the real signature came back.
   */
  readonly acceptSkipSignature?: boolean
  /** Delay between streamed chunks. */
  readonly chunkDelayMs?: number
}

export interface GeminiMock extends MockUpstream.MockUpstream {
  /** Queue scripted answers for the next generate calls, in order. */
  readonly script: (...answers: ReadonlyArray<Script>) => GeminiMock
  /** Signatures this mock handed out (valid to send back), with the function each was issued on. */
  readonly signatures: ReadonlyMap<string, string>
  /** Bodies of the generate calls received, in order. */
  readonly generateBodies: () => Array<Json>
}

export const modelList: ReadonlyArray<Json> = [
  {
    name: "models/gemini-2.5-flash",
    version: "001",
    displayName: "Gemini 2.5 Flash",
    description: "Stable version of Gemini 2.5 Flash",
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
  },
  {
    name: "models/gemini-2.5-pro",
    version: "2.5",
    displayName: "Gemini 2.5 Pro",
    description: "Stable release of Gemini 2.5 Pro",
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
  },
  {
    name: "models/gemini-embedding-001",
    version: "001",
    displayName: "Gemini Embedding 001",
    description: "Obtain a distributed representation of a text.",
    inputTokenLimit: 2048,
    outputTokenLimit: 1,
    supportedGenerationMethods: ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"],
  },
]

// ---- Google's error shape ---------------------------------------------------------------------

const statusNames: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
}

export const errorBody = (code: number, message: string, details?: Array<Json>): Json => ({
  error: {
    code,
    message,
    status: statusNames[code] ?? "UNKNOWN",
    ...(details === undefined ? {} : { details }),
  },
})

class Reject extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: Array<Json>,
  ) {
    super(message)
  }
}

const unknownName = (field: string, where: string) =>
  new Reject(400, `Invalid JSON payload received. Unknown name "${field}" at '${where}': Cannot find field.`, [
    {
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      fieldViolations: [
        {
          field: `${where}${where === "" ? "" : "."}${field}`,
          description: `Invalid JSON payload received. Unknown name "${field}" at '${where}': Cannot find field.`,
        },
      ],
    },
  ])

// ---- request validation (the subset of Google's checks a gateway can get wrong) ----------------

const requestFields = new Set([
  "contents",
  "systemInstruction",
  "system_instruction",
  "tools",
  "toolConfig",
  "tool_config",
  "generationConfig",
  "generation_config",
  "safetySettings",
  "safety_settings",
  "cachedContent",
  "cached_content",
  "model",
  "labels",
  "serviceTier",
])
const partFields = new Set([
  "text",
  "inlineData",
  "fileData",
  "functionCall",
  "functionResponse",
  "executableCode",
  "codeExecutionResult",
  "thought",
  "thoughtSignature",
  "videoMetadata",
  "mediaResolution",
  "partMetadata",
])
const partData = [
  "text",
  "inlineData",
  "fileData",
  "functionCall",
  "functionResponse",
  "executableCode",
  "codeExecutionResult",
]
const generationFields = new Set([
  "temperature",
  "topP",
  "topK",
  "candidateCount",
  "maxOutputTokens",
  "stopSequences",
  "seed",
  "presencePenalty",
  "frequencyPenalty",
  "responseMimeType",
  "responseSchema",
  "responseJsonSchema",
  "responseLogprobs",
  "logprobs",
  "responseModalities",
  "mediaResolution",
  "speechConfig",
  "imageConfig",
  "thinkingConfig",
  "enableEnhancedCivicAnswers",
])
/** The kinds of Tool Google documents (function declarations and the built-in tools). */
const toolFields = new Set([
  "functionDeclarations",
  "googleSearch",
  "googleSearchRetrieval",
  "codeExecution",
  "urlContext",
  "retrieval",
  "fileSearch",
  "googleMaps",
  "computerUse",
])
/** Fields of Gemini's OpenAPI-subset Schema (`parameters`, `responseSchema`). */
const schemaFields = new Set([
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "maxItems",
  "minItems",
  "properties",
  "required",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "example",
  "anyOf",
  "propertyOrdering",
  "default",
  "items",
  "minimum",
  "maximum",
])
const schemaTypes = new Set(["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"])

const checkSchema = (s: unknown, where: string): void => {
  if (!isObj(s)) throw new Reject(400, `Invalid value at '${where}': expected a Schema object`)
  for (const [k, v] of Object.entries(s)) {
    if (!schemaFields.has(k)) throw unknownName(k, where)
    if (k === "type" && (typeof v !== "string" || !schemaTypes.has(v.toUpperCase())))
      throw new Reject(
        400,
        `Invalid value at '${where}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(v)}`,
      )
    if (k === "properties" && isObj(v))
      for (const [name, p] of Object.entries(v)) checkSchema(p, `${where}.properties[${name}]`)
    if (k === "items") checkSchema(v, `${where}.items`)
    if (k === "anyOf" && Array.isArray(v))
      v.forEach((m, i) => {
        checkSchema(m, `${where}.anyOf[${i}]`)
      })
    if (k === "enum" && Array.isArray(v) && v.some((e) => typeof e !== "string" || e === ""))
      throw new Reject(400, `Invalid value at '${where}.enum': enum values must be non-empty strings`)
  }
  if (typeof s.type === "string" && s.type.toUpperCase() === "ARRAY" && s.items === undefined)
    throw new Reject(400, `* GenerateContentRequest.${where}.items: missing field.`)
}

const camelKey = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

const skipSignature = "skip_thought_signature_validator"

const checkRequest = (
  body: unknown,
  signatures: ReadonlyMap<string, string>,
  requireSignatures: boolean,
  acceptSkip = true,
): Json => {
  if (!isObj(body)) throw new Reject(400, "Invalid JSON payload received. Expected an object.")
  for (const k of Object.keys(body)) if (!requestFields.has(k)) throw unknownName(k, "")
  const contents = body.contents
  if (!Array.isArray(contents) || contents.length === 0)
    throw new Reject(400, "* GenerateContentRequest.contents: contents is not specified\n")
  contents.forEach((c, i) => {
    if (!isObj(c)) throw new Reject(400, `Invalid value at 'contents[${i}]'`)
    if (c.role !== undefined && c.role !== "user" && c.role !== "model")
      throw new Reject(400, "Please use a valid role: user, model.")
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      throw new Reject(400, `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`)
    let firstCallSeen = false
    c.parts.forEach((p, j) => {
      if (!isObj(p)) throw new Reject(400, `Invalid value at 'contents[${i}].parts[${j}]'`)
      for (const k of Object.keys(p))
        if (!partFields.has(camelKey(k))) throw unknownName(k, `contents[${i}].parts[${j}]`)
      const set = partData.filter((f) => p[f] !== undefined)
      if (set.length === 0 && p.thoughtSignature === undefined)
        throw new Reject(
          400,
          `* GenerateContentRequest.contents[${i}].parts[${j}].data: required oneof field 'data' must have one initialized field\n`,
        )
      if (typeof p.text === "string" && p.text === "" && p.thoughtSignature === undefined)
        throw new Reject(400, `Unable to submit request because it has an empty text parameter.`)
      const sig = p.thoughtSignature
      if (sig !== undefined && typeof sig === "string" && sig !== skipSignature && !signatures.has(sig))
        throw new Reject(400, `Corrupted thought signature. (contents[${i}].parts[${j}])`)
      // A signature belongs to the call it was issued on.
      if (
        typeof sig === "string" &&
        isObj(p.functionCall) &&
        signatures.has(sig) &&
        signatures.get(sig) !== String(p.functionCall.name)
      )
        throw new Reject(400, `Corrupted thought signature. (contents[${i}].parts[${j}])`)
      if (isObj(p.functionCall) && c.role === "model") {
        if (!firstCallSeen && requireSignatures && sig === skipSignature && !acceptSkip)
          throw new Reject(
            400,
            `Function call is missing a thought_signature in functionCall parts. Additional data, function call \`default_api:${String(p.functionCall.name)}\` , position ${i + 1}.`,
          )
        if (!firstCallSeen && requireSignatures && sig === undefined)
          throw new Reject(
            400,
            `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${String(p.functionCall.name)}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
          )
        firstCallSeen = true
        if (!isObj(p.functionCall.args) && p.functionCall.args !== undefined)
          throw new Reject(400, `Invalid value at 'contents[${i}].parts[${j}].function_call.args'`)
      }
      if (isObj(p.functionResponse) && !isObj(p.functionResponse.response))
        throw new Reject(400, `Invalid value at 'contents[${i}].parts[${j}].function_response.response'`)
    })
  })
  const tools = body.tools
  if (tools !== undefined) {
    if (!Array.isArray(tools)) throw new Reject(400, "Invalid value at 'tools'")
    tools.forEach((t, i) => {
      if (!isObj(t)) throw new Reject(400, `Invalid value at 'tools[${i}]'`)
      for (const k of Object.keys(t)) if (!toolFields.has(camelKey(k))) throw unknownName(k, `tools[${i}]`)
      const decls = t.functionDeclarations ?? t.function_declarations
      if (Array.isArray(decls))
        decls.forEach((d, j) => {
          if (!isObj(d) || typeof d.name !== "string" || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/.test(d.name))
            throw new Reject(
              400,
              `* GenerateContentRequest.tools[${i}].function_declarations[${j}].name: Invalid function name.`,
            )
          if (d.parameters !== undefined && d.parametersJsonSchema !== undefined)
            throw new Reject(400, "parameters and parameters_json_schema are mutually exclusive")
          if (d.parameters !== undefined)
            checkSchema(d.parameters, `tools[${i}].function_declarations[${j}].parameters`)
        })
    })
  }
  const gc = body.generationConfig ?? body.generation_config
  if (gc !== undefined) {
    if (!isObj(gc)) throw new Reject(400, "Invalid value at 'generation_config'")
    for (const k of Object.keys(gc)) if (!generationFields.has(camelKey(k))) throw unknownName(k, "generation_config")
    const tc = gc.thinkingConfig
    if (isObj(tc) && tc.thinkingBudget !== undefined && tc.thinkingLevel !== undefined)
      throw new Reject(
        400,
        "Unable to submit request because thinking_budget and thinking_level are not supported together.",
      )
    if (gc.responseSchema !== undefined) checkSchema(gc.responseSchema, "generation_config.response_schema")
    if (typeof gc.candidateCount === "number" && gc.candidateCount > 8)
      throw new Reject(400, "Only up to 8 candidates are supported")
  }
  return body
}

// ---- answers ----------------------------------------------------------------------------------

const crc = (buf: Buffer): number => {
  let c = 0xffffffff
  for (const b of buf) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

const pngChunk = (type: string, data: Buffer): Buffer => {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, "ascii"), data])
  const sum = Buffer.alloc(4)
  sum.writeUInt32BE(crc(body))
  return Buffer.concat([len, body, sum])
}

/** An 8×8 one-colour PNG whose colour is a hash of `seed`. */
export const drawPng = (seed: string): Buffer => {
  const rgb = createHash("sha256").update(seed).digest().subarray(0, 3)
  const row = Buffer.concat([Buffer.from([0]), ...Array.from({ length: 8 }, () => rgb)])
  const header = Buffer.alloc(13)
  header.writeUInt32BE(8, 0)
  header.writeUInt32BE(8, 4)
  header.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(Buffer.concat(Array.from({ length: 8 }, () => row)))),
    pngChunk("IEND", Buffer.alloc(0)),
  ])
}

/** Tokens Gemini bills per drawn image. */
export const imageTokens = 1290

const aspectRatios = new Set(["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"])
const imageSizes = new Set(["1K", "2K", "4K"])

/** The output modalities a request asks for, checked as Google checks them. */
const modalitiesOf = (body: Json, model: string): Array<string> | undefined => {
  const gc = isObj(body.generationConfig) ? body.generationConfig : {}
  const raw = gc.responseModalities
  const ic = gc.imageConfig
  if (isObj(ic)) {
    if (ic.aspectRatio !== undefined && !aspectRatios.has(String(ic.aspectRatio)))
      throw new Reject(400, `Invalid aspect ratio: ${String(ic.aspectRatio)}`)
    if (ic.imageSize !== undefined && !imageSizes.has(String(ic.imageSize)))
      throw new Reject(400, `Invalid image size: ${String(ic.imageSize)}`)
  }
  if (raw === undefined) return undefined
  if (!Array.isArray(raw)) throw new Reject(400, "Invalid value at 'generation_config.response_modalities'")
  const list = raw.map((m) => String(m).toUpperCase())
  for (const m of list)
    if (!["TEXT", "IMAGE", "AUDIO"].includes(m))
      throw new Reject(400, `Invalid value at 'generation_config.response_modalities' (${m})`)
  if (list.includes("IMAGE") && !model.includes("-image"))
    throw new Reject(400, "Model does not support the requested response modalities: image")
  return list
}

/** Output modalities, checked with the audio rules too (GeminiAudio.ts). */
const checkedModalities = (body: Json, model: string): Array<string> | undefined => {
  const list = modalitiesOf(body, model)
  const audio = GeminiAudio.problem(body, model, list)
  if (audio !== undefined) throw new Reject(400, audio)
  return list
}

const tokens = (s: string) => Math.ceil(s.length / 4)

const textOfContents = (body: Json): string => {
  let out = ""
  const walk = (c: unknown) => {
    if (!isObj(c) || !Array.isArray(c.parts)) return
    for (const p of c.parts) {
      if (!isObj(p)) continue
      if (typeof p.text === "string") out += p.text
      if (isObj(p.functionCall)) out += JSON.stringify(p.functionCall)
      if (isObj(p.functionResponse)) out += JSON.stringify(p.functionResponse)
    }
  }
  const sys = body.systemInstruction ?? body.system_instruction
  if (sys !== undefined) walk(sys)
  for (const c of Array.isArray(body.contents) ? body.contents : []) walk(c)
  return out
}

const sampleArgs = (schema: unknown): Json => {
  const out: Json = {}
  if (!isObj(schema) || !isObj(schema.properties)) return out
  for (const key of Array.isArray(schema.required) ? schema.required : []) {
    const prop = (schema.properties as Json)[key as string]
    const t = isObj(prop) && typeof prop.type === "string" ? prop.type.toUpperCase() : "STRING"
    out[key as string] =
      t === "NUMBER" || t === "INTEGER"
        ? 42
        : t === "BOOLEAN"
          ? true
          : t === "ARRAY"
            ? []
            : t === "OBJECT"
              ? {}
              : "sample"
  }
  return out
}

interface Planned {
  readonly parts: Array<Json>
  readonly finishReason: string
  readonly thoughtTokens: number
}

let sigCounter = 0

export const start = async (options: Options = {}): Promise<GeminiMock> => {
  const upstream = await MockUpstream.start()
  const queue: Array<Script> = []
  /** signature → the name of the function call it was issued on. */
  const signatures = new Map<string, string>()
  const bodies: Array<Json> = []
  // Opaque, a few hundred bytes of standard base64 (with + / and padding), as Gemini 3's are.
  const issue = (name: string) => {
    const seed = createHash("sha256").update(`${name}:${sigCounter++}:${Math.random()}`).digest()
    const bytes = Buffer.concat([Buffer.from([0x0a, 0xfb, 0xff, 0x3e]), ...Array.from({ length: 9 }, () => seed)])
    const sig = bytes.subarray(0, 290).toString("base64")
    signatures.set(sig, name)
    return sig
  }
  let responseCounter = 0
  const responseId = () => Buffer.from(`resp-${Date.now()}-${responseCounter++}`).toString("base64url").slice(0, 22)

  const plan = (body: Json, script: Script | undefined, model = ""): Planned => {
    const gc = isObj(body.generationConfig) ? body.generationConfig : {}
    const modalities = checkedModalities(body, model)
    const tc = isObj(gc.thinkingConfig) ? gc.thinkingConfig : {}
    const contents = body.contents as Array<Json>
    const last = contents[contents.length - 1]!
    const lastParts = last.parts as Array<Json>
    const prompt = lastParts.map((p) => (typeof p.text === "string" && p.thought !== true ? p.text : "")).join("")
    const parts: Array<Json> = []
    let thoughtTokens = 0
    if (tc.includeThoughts === true) {
      const thought =
        script !== undefined && "thought" in script && script.thought ? script.thought : `**Considering** ${prompt}`
      parts.push({ text: thought, thought: true })
      thoughtTokens = tokens(thought) + 10
    } else if (tc.thinkingBudget !== 0) thoughtTokens = 7
    if (script !== undefined && "text" in script) {
      parts.push({ text: script.text })
      return { parts, finishReason: script.finishReason ?? "STOP", thoughtTokens }
    }
    if (script !== undefined && "calls" in script) {
      script.calls.forEach((c, i) => {
        const part: Json = {
          functionCall: { ...(c.id === undefined ? {} : { id: c.id }), name: c.name, args: c.args ?? {} },
        }
        if (i === 0) part.thoughtSignature = issue(c.name)
        parts.push(part)
      })
      return { parts, finishReason: "STOP", thoughtTokens }
    }
    const responses = lastParts.filter((p) => isObj(p.functionResponse)).map((p) => p.functionResponse as Json)
    if (responses.length > 0) {
      parts.push({
        text: `Results: ${responses.map((r) => `${String(r.name)} → ${JSON.stringify(r.response)}`).join("; ")}`,
      })
      return { parts, finishReason: "STOP", thoughtTokens }
    }
    const decls: Array<Json> = []
    for (const t of Array.isArray(body.tools) ? body.tools : [])
      if (isObj(t) && Array.isArray(t.functionDeclarations)) decls.push(...(t.functionDeclarations as Array<Json>))
    const mode =
      isObj(body.toolConfig) && isObj(body.toolConfig.functionCallingConfig)
        ? body.toolConfig.functionCallingConfig.mode
        : undefined
    const named = decls.filter((d) => prompt.includes(String(d.name)))
    const chosen = named.length > 0 ? named : mode === "ANY" && decls[0] !== undefined ? [decls[0]] : []
    if (mode !== "NONE" && chosen.length > 0) {
      chosen.forEach((d, i) => {
        const part: Json = { functionCall: { name: d.name, args: sampleArgs(d.parameters ?? d.parametersJsonSchema) } }
        if (i === 0) part.thoughtSignature = issue(String(d.name))
        parts.push(part)
      })
      return { parts, finishReason: "STOP", thoughtTokens }
    }
    const audio = GeminiAudio.answer(body, model, prompt)
    if (audio !== undefined) {
      parts.push(...audio)
      return { parts, finishReason: "STOP", thoughtTokens: GeminiAudio.isTts(model) ? 0 : thoughtTokens }
    }
    if (model.includes("-image")) {
      const inputs = contents
        .flatMap((c) => (Array.isArray(c.parts) ? (c.parts as Array<Json>) : []))
        .filter((p) => isObj(p.inlineData)).length
      if (!(modalities !== undefined && modalities.length === 1 && modalities[0] === "IMAGE"))
        parts.push({ text: `Here is ${prompt}` })
      parts.push({
        inlineData: { mimeType: "image/png", data: drawPng(`${prompt}|${inputs}`).toString("base64") },
      })
      return { parts, finishReason: "STOP", thoughtTokens }
    }
    const max = typeof gc.maxOutputTokens === "number" ? gc.maxOutputTokens : undefined
    let answer = `Echo: ${prompt}`
    let finishReason = "STOP"
    if (max !== undefined && tokens(answer) > max) {
      answer = answer.slice(0, max * 4)
      finishReason = "MAX_TOKENS"
    }
    parts.push({ text: answer })
    return { parts, finishReason, thoughtTokens }
  }

  const usage = (body: Json, parts: Array<Json>, thoughtTokens: number, final: boolean): Json => {
    const prompt = tokens(textOfContents(body))
    const out = parts
      .filter((p) => p.thought !== true && !isObj(p.inlineData))
      .map((p) => (typeof p.text === "string" ? p.text : JSON.stringify(p.functionCall ?? "")))
      .join("")
    const images = parts.filter((p) => isObj(p.inlineData) && String(p.inlineData.mimeType).startsWith("image/")).length
    const audio = GeminiAudio.outputTokens(parts)
    const candidates = tokens(out) + images * imageTokens + audio
    const u: Json = { promptTokenCount: prompt }
    if (final) u.candidatesTokenCount = candidates
    u.totalTokenCount = prompt + (final ? candidates + thoughtTokens : 0)
    u.promptTokensDetails = [{ modality: "TEXT", tokenCount: prompt }]
    if (final && thoughtTokens > 0) u.thoughtsTokenCount = thoughtTokens
    if (final && audio > 0) u.candidatesTokensDetails = [{ modality: "AUDIO", tokenCount: audio }]
    if (final && images > 0)
      u.candidatesTokensDetails = [
        { modality: "TEXT", tokenCount: candidates - images * imageTokens },
        { modality: "IMAGE", tokenCount: images * imageTokens },
      ]
    return u
  }

  const fail = (res: Http.ServerResponse, e: Reject) => {
    res.writeHead(e.code, { "content-type": "application/json; charset=UTF-8" })
    res.end(JSON.stringify(errorBody(e.code, e.message, e.details), null, 2))
  }

  const checkKey = (req: MockUpstream.Recorded) => {
    if (options.apiKey === undefined) return
    const given = (req.headers["x-goog-api-key"] as string | undefined) ?? req.query.get("key") ?? undefined
    if (given !== options.apiKey)
      throw new Reject(400, "API key not valid. Please pass a valid API key.", [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "API_KEY_INVALID",
          domain: "googleapis.com",
          metadata: { service: "generativelanguage.googleapis.com" },
        },
      ])
  }

  const modelOf = (path: string) => /^\/v1(?:beta)?\/models\/(.+):[A-Za-z]+$/.exec(path)?.[1]
  const knownModel = (m: string | undefined) => m !== undefined && !m.startsWith("missing")

  const scriptedError = (s: Script): Reject | undefined => {
    if (!("error" in s)) return undefined
    const details: Array<Json> = []
    if (s.error === 429) {
      details.push({
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        violations: [
          {
            quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
          },
        ],
      })
      details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: s.retryDelay ?? "7s" })
    }
    return new Reject(s.error, s.message ?? `mock Gemini error ${s.error}`, details.length > 0 ? details : undefined)
  }

  const generate =
    (stream: boolean): MockUpstream.Responder =>
    async (req, res) => {
      try {
        checkKey(req)
        const model = modelOf(req.path)
        if (!knownModel(model))
          throw new Reject(
            404,
            `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`,
          )
        const body = checkRequest(
          req.body,
          signatures,
          options.requireSignatures ?? true,
          options.acceptSkipSignature ?? true,
        )
        bodies.push(body)
        const script = queue.shift()
        const scripted = script === undefined ? undefined : scriptedError(script)
        if (scripted !== undefined) throw scripted
        const id = responseId()
        const modelVersion = model!.replace(/^models\//, "")
        let chunks: Array<Json>
        if (script !== undefined && ("chunks" in script || "resetAfter" in script)) {
          chunks = [...("chunks" in script ? script.chunks : script.resetAfter)]
        } else {
          const p = plan(body, script, modelVersion)
          // Stream: thought, then the text in word groups, function calls whole; the finish and
          // the complete usage ride on the last chunk.
          const pieces: Array<Array<Json>> = []
          for (const part of p.parts) {
            if (typeof part.text === "string" && part.thought !== true) {
              const words = part.text.split(/(?<=\s)/)
              const per = Math.max(1, Math.ceil(words.length / 3))
              for (let i = 0; i < words.length; i += per) pieces.push([{ text: words.slice(i, i + per).join("") }])
            } else pieces.push([part])
          }
          chunks = pieces.map((parts, i) => {
            const final = i === pieces.length - 1
            const candidate: Json = { content: { parts, role: "model" } }
            if (final) candidate.finishReason = p.finishReason
            candidate.index = 0
            return {
              candidates: [candidate],
              usageMetadata: usage(body, final ? p.parts : [], p.thoughtTokens, final),
              modelVersion,
              responseId: id,
            }
          })
        }
        if (!stream) {
          // One scripted chunk is the whole answer (several candidates included); more are merged.
          const merged =
            chunks.length === 1
              ? chunks[0]!
              : chunks.reduce<Json>((acc, c) => {
                  const cand = (isObj(c) && Array.isArray(c.candidates) ? c.candidates[0] : undefined) as
                    | Json
                    | undefined
                  const accCand = (acc.candidates as Array<Json> | undefined)?.[0]
                  if (cand !== undefined) {
                    if (accCand === undefined)
                      acc.candidates = [
                        {
                          ...cand,
                          content: {
                            role: "model",
                            parts: [...(((cand.content as Json | undefined)?.parts as Array<Json>) ?? [])],
                          },
                        },
                      ]
                    else {
                      ;((accCand.content as Json).parts as Array<Json>).push(
                        ...(((cand.content as Json | undefined)?.parts as Array<Json>) ?? []),
                      )
                      for (const [k, v] of Object.entries(cand)) if (k !== "content") accCand[k] = v
                    }
                  }
                  for (const [k, v] of Object.entries(c)) if (k !== "candidates") acc[k] = v
                  return acc
                }, {})
          res.writeHead(200, { "content-type": "application/json; charset=UTF-8" })
          res.end(JSON.stringify(merged, null, 2))
          return
        }
        const sse = req.query.get("alt") === "sse"
        res.writeHead(200, { "content-type": sse ? "text/event-stream" : "application/json; charset=UTF-8" })
        for (let i = 0; i < chunks.length; i++) {
          if (options.chunkDelayMs) await new Promise((r) => setTimeout(r, options.chunkDelayMs))
          if (res.destroyed) return
          const text = JSON.stringify(chunks[i])
          res.write(sse ? `data: ${text}\r\n\r\n` : `${i === 0 ? "[" : ",\r\n"}${JSON.stringify(chunks[i], null, 2)}`)
        }
        if (script !== undefined && "resetAfter" in script) {
          await new Promise((r) => setTimeout(r, 20))
          res.socket?.destroy()
          return
        }
        if (!sse) res.write(chunks.length === 0 ? "[]" : "]")
        res.end()
      } catch (e) {
        if (e instanceof Reject) return fail(res, e)
        throw e
      }
    }

  const embedVector = (text: string, dims: number): Array<number> => {
    const out: Array<number> = []
    let h = 2166136261
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
    for (let i = 0; i < dims; i++) {
      h = Math.imul(h ^ i, 16777619)
      out.push(Number((((h >>> 0) % 20000) / 10000 - 1).toFixed(6)))
    }
    return out
  }

  const contentText = (c: unknown, where: string): string => {
    if (!isObj(c) || !Array.isArray(c.parts) || c.parts.length === 0)
      throw new Reject(400, `* BatchEmbedContentsRequest.${where}.parts: contents.parts must not be empty.`)
    return c.parts.map((p) => (isObj(p) && typeof p.text === "string" ? p.text : "")).join(" ")
  }

  const json = (res: Http.ServerResponse, body: unknown) => {
    res.writeHead(200, { "content-type": "application/json; charset=UTF-8" })
    res.end(JSON.stringify(body, null, 2))
  }

  const guarded =
    (f: MockUpstream.Responder): MockUpstream.Responder =>
    async (req, res) => {
      try {
        checkKey(req)
        await f(req, res)
      } catch (e) {
        if (e instanceof Reject) return fail(res, e)
        throw e
      }
    }

  const embedOne = (r: unknown, where: string): Json => {
    if (!isObj(r)) throw new Reject(400, `Invalid value at '${where}'`)
    for (const k of Object.keys(r))
      if (!["model", "content", "taskType", "title", "outputDimensionality"].includes(k)) throw unknownName(k, where)
    const dims = typeof r.outputDimensionality === "number" ? r.outputDimensionality : 3072
    return { values: embedVector(contentText(r.content, `${where}.content`), dims) }
  }

  const countOf = (body: unknown): number => {
    if (!isObj(body)) throw new Reject(400, "Invalid JSON payload received.")
    for (const k of Object.keys(body)) if (k !== "contents" && k !== "generateContentRequest") throw unknownName(k, "")
    if (body.contents !== undefined && body.generateContentRequest !== undefined)
      throw new Reject(400, "contents and generate_content_request are mutually exclusive.")
    if (isObj(body.generateContentRequest)) {
      const inner = checkRequest(
        Object.fromEntries(Object.entries(body.generateContentRequest).filter(([k]) => k !== "model")),
        signatures,
        false,
      )
      return tokens(textOfContents(inner))
    }
    return tokens(textOfContents({ contents: body.contents }))
  }

  upstream
    .on("POST", /^\/v1(beta)?\/models\/.+:generateContent$/, generate(false))
    .on("POST", /^\/v1(beta)?\/models\/.+:streamGenerateContent$/, generate(true))
    .on(
      "POST",
      /^\/v1(beta)?\/models\/.+:countTokens$/,
      guarded((req, res) =>
        json(res, {
          totalTokens: countOf(req.body),
          promptTokensDetails: [{ modality: "TEXT", tokenCount: countOf(req.body) }],
        }),
      ),
    )
    .on(
      "POST",
      /^\/v1(beta)?\/models\/.+:embedContent$/,
      guarded((req, res) => json(res, { embedding: embedOne(req.body, "") })),
    )
    .on(
      "POST",
      /^\/v1(beta)?\/models\/.+:batchEmbedContents$/,
      guarded((req, res) => {
        const body = req.body
        if (!isObj(body) || !Array.isArray(body.requests))
          throw new Reject(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
        const model = `models/${modelOf(req.path)}`
        const embeddings = body.requests.map((r, i) => {
          if (isObj(r) && r.model !== model)
            throw new Reject(
              400,
              `Model in requests[${i}] (${String(r.model)}) does not match the model in the URL (${model}).`,
            )
          return embedOne(r, `requests[${i}]`)
        })
        json(res, { embeddings })
      }),
    )
    .on(
      "GET",
      /^\/v1(beta)?\/models$/,
      guarded((req, res) => {
        const size = Number(req.query.get("pageSize") ?? 50)
        const offset = Number(req.query.get("pageToken") ?? 0)
        const page = modelList.slice(offset, offset + size)
        json(
          res,
          offset + size < modelList.length ? { models: page, nextPageToken: String(offset + size) } : { models: page },
        )
      }),
    )
    .on(
      "GET",
      /^\/v1(beta)?\/models\/[^:]+$/,
      guarded((req, res) => {
        const name = req.path.replace(/^\/v1(beta)?\//, "")
        const found = modelList.find((m) => m.name === name)
        if (found === undefined)
          throw new Reject(404, `${name} is not found for API version v1beta, or is not supported for getModel.`)
        json(res, found)
      }),
    )

  const self: GeminiMock = Object.assign(upstream, {
    script: (...answers: ReadonlyArray<Script>) => {
      queue.push(...answers)
      return self
    },
    signatures,
    generateBodies: () => bodies,
  })
  return self
}
