/**
 * GenerateContentRequest ⇄ canonical ChatRequest. `decode` serves the ingress (a Gemini client's
 * body → canonical), `encode` serves the provider (canonical → the body sent to Gemini). Fields
 * with no canonical home travel in `extras.gemini` and are merged back by `encode`, so a Gemini
 * client talking to a Gemini upstream loses nothing; other providers never see them.
 */
import { Either, ParseResult, Schema } from "effect"
import { Echo } from "@sluice/core"

import { type ChatRequest, Errors, type Message, type Part, type Tool } from "@sluice/schema"
import * as JsonSchema from "./JsonSchema.ts"
import * as Normalize from "./Normalize.ts"
import * as GParts from "./Parts.ts"
import * as Speech from "./Speech.ts"
import * as Wire from "./Wire.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`),
    "",
  )

/** Decode with a wire Schema; the error names the first bad field the way Google does. */
export const decodeWire = <A, I>(
  schema: Schema.Schema<A, I>,
  value: unknown,
  prefix = "",
): Either.Either<A, Errors.InvalidRequest> =>
  Schema.decodeUnknownEither(schema, { errors: "first" })(value).pipe(
    Either.mapLeft((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      // Paths may hold a caller's record keys and messages quote the value: both are capped.
      const path = Echo.cap(formatPath([...(prefix === "" ? [] : [prefix]), ...(issue?.path ?? [])]), 200)
      const detail = issue === undefined ? "malformed request" : Echo.capDecodeMessage(issue.message)
      return new Errors.InvalidRequest({
        message: `Invalid JSON payload received. ${path === "" ? "" : `Invalid value at '${path}': `}${detail}`,
        ...(path === "" ? {} : { param: path }),
      })
    }),
  )

const invalid = (message: string, param?: string) =>
  Either.left(new Errors.InvalidRequest(param === undefined ? { message } : { message, param }))

const without = (o: Json, keys: ReadonlyArray<string>): Json => {
  const out: Json = {}
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v
  return out
}

const levelEffort = {
  MINIMAL: "minimal",
  LOW: "low",
  MEDIUM: "medium",
  HIGH: "high",
} as const

/**
 * A reasoning block streamed from a provider that signs blocks at the end (Anthropic's
 * signature_delta) reaches a Gemini client as unsigned thought parts closed by an empty signed
 * one — a shape Gemini itself never produces. Replayed, those parts are one signed block again.
 */
export const closeThoughts = (parts: ReadonlyArray<Part>): Array<Part> => {
  const out: Array<Part> = []
  for (const p of parts) {
    if (p.type === "reasoning" && p.text === "" && p.signature !== undefined && p.redacted === undefined) {
      let start = out.length
      while (start > 0) {
        const prev = out[start - 1]!
        if (prev.type !== "reasoning" || prev.signature !== undefined || prev.redacted !== undefined) break
        start--
      }
      if (start < out.length) {
        const text = out
          .slice(start)
          .map((r) => (r.type === "reasoning" ? r.text : ""))
          .join("")
        out.splice(start, out.length - start, { type: "reasoning", text, signature: p.signature })
        continue
      }
    }
    out.push(p)
  }
  return out
}

/** `models/x` and `tunedModels/x` → `x` as the router knows it; `x` stays `x`. */
export const modelId = (name: string): string => name.replace(/^models\//, "")

export interface DecodeOptions {
  readonly model: string
  readonly stream: boolean
}

/** A Gemini client's GenerateContentRequest body → canonical ChatRequest. */
export const decode = (body: unknown, options: DecodeOptions): Either.Either<ChatRequest, Errors.InvalidRequest> => {
  if (!isObj(body)) return invalid("Invalid JSON payload received. Expected an object (GenerateContentRequest).")
  const normalized = Normalize.request(body) as Json
  return Either.flatMap(decodeWire(Wire.GenerateContentRequest, normalized), (req) =>
    fromWire(req, normalized, options),
  )
}

/** Canonical request from an already decoded (and normalised) wire request. */
export const fromWire = (
  req: Wire.GenerateContentRequest,
  raw: Json,
  options: DecodeOptions,
): Either.Either<ChatRequest, Errors.InvalidRequest> => {
  const extras: Json = {}
  for (const [k, v] of Object.entries(raw)) if (!Wire.canonicalRequestFields.has(k)) extras[k] = v

  const messages: Array<Message> = []
  if (req.systemInstruction !== undefined) {
    const parts: Array<Part> = []
    for (const [j, p] of req.systemInstruction.parts.entries()) {
      if (p.text === undefined)
        return invalid("systemInstruction may only contain text parts", `systemInstruction.parts[${j}]`)
      parts.push({ type: "text", text: p.text })
    }
    if (parts.length > 0) messages.push({ role: "system", parts })
  }

  const ledger = new GParts.CallLedger()
  for (const [i, content] of req.contents.entries()) {
    const role = content.role ?? "user"
    if (role !== "user" && role !== "model")
      return invalid(`Please use a valid role: user, model. (got "${Echo.cap(role)}")`, `contents[${i}].role`)
    if (content.parts.length === 0) return invalid("contents.parts must not be empty.", `contents[${i}].parts`)
    const parts = GParts.decode(content.parts, {
      path: `contents[${i}].parts`,
      ledger,
      makeId: (n) => `${GParts.syntheticPrefix}${i}_${n}`,
    })
    if (Either.isLeft(parts)) return Either.left(parts.left)
    const canonicalRole = role === "model" ? "assistant" : "user"
    const last = messages[messages.length - 1]
    // js-genai's chat history keeps each streamed chunk as its own Content: one turn, many
    // Contents. They are one canonical message.
    if (last !== undefined && last.role === canonicalRole)
      messages[messages.length - 1] = { role: canonicalRole, parts: closeThoughts([...last.parts, ...parts.right]) }
    else messages.push({ role: canonicalRole, parts: closeThoughts(parts.right) })
  }
  if (req.contents.length === 0)
    return invalid("* GenerateContentRequest.contents: contents is not specified", "contents")

  const chat: { -readonly [K in keyof ChatRequest]: ChatRequest[K] } = {
    model: options.model,
    messages,
    stream: options.stream,
  }

  // tools: function declarations are canonical; googleSearch, codeExecution, … pass through.
  const tools: Array<Tool> = []
  const passTools: Array<Json> = []
  const jsonSchemaTools: Array<string> = []
  const declExtras: Json = {}
  const rawTools = Array.isArray(raw.tools) ? raw.tools : []
  for (const [t, tool] of (req.tools ?? []).entries()) {
    const rest = without(isObj(rawTools[t]) ? rawTools[t] : {}, ["functionDeclarations"])
    if (Object.keys(rest).length > 0) passTools.push(rest)
    for (const [d, decl] of (tool.functionDeclarations ?? []).entries()) {
      if (decl.parameters !== undefined && decl.parametersJsonSchema !== undefined)
        return invalid(
          "parameters and parametersJsonSchema are mutually exclusive",
          `tools[${t}].functionDeclarations[${d}].parametersJsonSchema`,
        )
      const tool: { -readonly [K in keyof Tool]: Tool[K] } = { name: decl.name }
      if (decl.description !== undefined) tool.description = decl.description
      if (decl.parametersJsonSchema !== undefined) {
        tool.parameters = decl.parametersJsonSchema
        jsonSchemaTools.push(decl.name)
      } else if (decl.parameters !== undefined) tool.parameters = JsonSchema.fromGemini(decl.parameters)
      tools.push(tool)
      const more: Json = {}
      if (decl.response !== undefined) more.response = decl.response
      if (decl.responseJsonSchema !== undefined) more.responseJsonSchema = decl.responseJsonSchema
      if (decl.behavior !== undefined) more.behavior = decl.behavior
      if (Object.keys(more).length > 0) declExtras[decl.name] = more
    }
  }
  if (tools.length > 0) chat.tools = tools
  delete extras.tools
  if (passTools.length > 0) extras.tools = passTools
  if (jsonSchemaTools.length > 0) extras.jsonSchemaTools = jsonSchemaTools
  if (Object.keys(declExtras).length > 0) extras.functionDeclarations = declExtras

  // toolConfig: the function-calling mode is canonical; VALIDATED and retrievalConfig pass through.
  const fcc = req.toolConfig?.functionCallingConfig
  if (fcc?.mode !== undefined || fcc?.allowedFunctionNames !== undefined) {
    const mode = fcc.mode === "ANY" ? "required" : fcc.mode === "NONE" ? "none" : "auto"
    chat.toolChoice =
      fcc.allowedFunctionNames === undefined ? { mode } : { mode, allowed: [...fcc.allowedFunctionNames] }
  }
  const rawToolConfig = isObj(raw.toolConfig) ? raw.toolConfig : {}
  const toolConfigRest = without(rawToolConfig, fcc?.mode === "VALIDATED" ? [] : ["functionCallingConfig"])
  if (Object.keys(toolConfigRest).length > 0) extras.toolConfig = toolConfigRest

  const gc = req.generationConfig
  if (gc !== undefined) {
    if (gc.temperature !== undefined) chat.temperature = gc.temperature
    if (gc.topP !== undefined) chat.topP = gc.topP
    if (gc.topK !== undefined) chat.topK = gc.topK
    if (gc.maxOutputTokens !== undefined) chat.maxTokens = gc.maxOutputTokens
    if (gc.stopSequences !== undefined) chat.stop = [...gc.stopSequences]
    if (gc.seed !== undefined) chat.seed = gc.seed
    if (gc.candidateCount !== undefined) chat.candidates = gc.candidateCount
    if (gc.presencePenalty !== undefined) chat.presencePenalty = gc.presencePenalty
    if (gc.frequencyPenalty !== undefined) chat.frequencyPenalty = gc.frequencyPenalty
    const passed = new Set([
      "temperature",
      "topP",
      "topK",
      "maxOutputTokens",
      "stopSequences",
      "seed",
      "candidateCount",
      "presencePenalty",
      "frequencyPenalty",
      "thinkingConfig",
      "responseMimeType",
      "responseSchema",
      "responseJsonSchema",
    ])
    const mime = gc.responseMimeType
    if (mime === "application/json") {
      if (gc.responseJsonSchema !== undefined) {
        chat.responseFormat = { type: "json_schema", schema: gc.responseJsonSchema }
        extras.responseJsonSchema = true
      } else if (gc.responseSchema !== undefined)
        chat.responseFormat = { type: "json_schema", schema: JsonSchema.fromGemini(gc.responseSchema) }
      else chat.responseFormat = { type: "json" }
    } else if (mime === "text/plain" && gc.responseSchema === undefined && gc.responseJsonSchema === undefined) {
      chat.responseFormat = { type: "text" }
    } else if (mime !== undefined || gc.responseSchema !== undefined || gc.responseJsonSchema !== undefined) {
      // text/x.enum and other modes only Gemini serves.
      passed.delete("responseMimeType")
      passed.delete("responseSchema")
      passed.delete("responseJsonSchema")
    }
    const thinking = gc.thinkingConfig
    if (thinking !== undefined) {
      if (thinking.thinkingBudget !== undefined && thinking.thinkingLevel !== undefined)
        return invalid(
          "thinking_budget and thinking_level are not supported together.",
          "generationConfig.thinkingConfig.thinkingLevel",
        )
      const reasoning: {
        -readonly [K in keyof NonNullable<ChatRequest["reasoning"]>]: NonNullable<ChatRequest["reasoning"]>[K]
      } = {}
      if (thinking.includeThoughts !== undefined) reasoning.includeThoughts = thinking.includeThoughts
      const budget = thinking.thinkingBudget
      if (budget === 0) reasoning.effort = "none"
      else if (budget !== undefined && budget > 0) reasoning.budgetTokens = budget
      else if (budget !== undefined && budget !== -1)
        return invalid(
          `thinking budget must be -1 (dynamic), 0 (off) or positive, got ${budget}`,
          "generationConfig.thinkingConfig.thinkingBudget",
        )
      const level = thinking.thinkingLevel
      if (level !== undefined && level !== "THINKING_LEVEL_UNSPECIFIED") reasoning.effort = levelEffort[level]
      if (Object.keys(reasoning).length > 0) chat.reasoning = reasoning
    }
    const rawGc = isObj(raw.generationConfig) ? raw.generationConfig : {}
    const output = outputOf(gc)
    if (Either.isLeft(output)) return Either.left(output.left)
    if (output.right !== undefined) {
      chat.output = output.right
      passed.add("responseModalities")
    }
    let gcRest = without(rawGc, [...passed])
    // aspectRatio/imageSize are canonical; other imageConfig fields stay Gemini's own.
    if (isObj(gcRest.imageConfig)) {
      const rest = without(gcRest.imageConfig, ["aspectRatio", "imageSize"])
      gcRest = Object.keys(rest).length > 0 ? { ...gcRest, imageConfig: rest } : without(gcRest, ["imageConfig"])
    }
    if (Object.keys(gcRest).length > 0) extras.generationConfig = gcRest
  }
  if (Object.keys(extras).length > 0) chat.extras = { gemini: extras }
  return Either.right(chat)
}

const modalities = { TEXT: "text", IMAGE: "image", AUDIO: "audio" } as const

/** responseModalities and imageConfig → the canonical output request. */
const outputOf = (gc: Wire.GenerationConfig): Either.Either<ChatRequest["output"], Errors.InvalidRequest> => {
  const out: { -readonly [K in keyof NonNullable<ChatRequest["output"]>]: NonNullable<ChatRequest["output"]>[K] } = {}
  if (gc.responseModalities !== undefined) {
    const list: Array<"text" | "image" | "audio"> = []
    for (let i = 0; i < gc.responseModalities.length; i++) {
      const m = gc.responseModalities[i]!.toUpperCase()
      if (m === "MODALITY_UNSPECIFIED") continue
      if (!(m in modalities))
        return invalid(
          `Invalid value at 'generation_config.response_modalities[${i}]' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), "${Echo.cap(gc.responseModalities[i]!)}"`,
          `generationConfig.responseModalities[${i}]`,
        )
      list.push(modalities[m as keyof typeof modalities])
    }
    out.modalities = list
  }
  const ic = gc.imageConfig
  if (ic !== undefined && (ic.aspectRatio !== undefined || ic.imageSize !== undefined)) {
    if (ic.aspectRatio !== undefined && !/^\d{1,2}:\d{1,2}$/.test(ic.aspectRatio))
      return invalid(
        `imageConfig.aspectRatio must look like "16:9", got "${Echo.cap(ic.aspectRatio)}"`,
        "generationConfig.imageConfig.aspectRatio",
      )
    out.image = {
      ...(ic.aspectRatio !== undefined ? { aspectRatio: ic.aspectRatio } : {}),
      ...(ic.imageSize !== undefined ? { size: ic.imageSize } : {}),
    }
  }
  return Either.right(Object.keys(out).length > 0 ? out : undefined)
}

// ---- canonical → Gemini -----------------------------------------------------------------------

export interface WireContent {
  role?: "user" | "model"
  parts: Array<GParts.WirePart>
}

/** Gemini 3 takes thinkingLevel; earlier models take a token budget. */
const usesThinkingLevel = (model: string) => /gemini-3/.test(model)

/** Google's OpenAI-compatibility budgets for effort levels on budget-based models. */
const effortBudget = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576 } as const

/** Gemini's documented stand-in when a call's signature is unknown (history from elsewhere). */
export const skipSignature = "skip_thought_signature_validator"

const mergeDeep = (base: Json, over: Json): Json => {
  const out: Json = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? mergeDeep(out[k] as Json, v) : v
  return out
}

/**
 * A canonical request → the GenerateContentRequest body for a Gemini upstream. Fails with an
 * InvalidRequest naming what Gemini cannot take.
 */
export const encode = (
  chat: ChatRequest,
  voices: Readonly<Record<string, string>> = {},
): Either.Either<Json, Errors.InvalidRequest> => {
  const extras: Json = chat.extras?.gemini ?? {}
  const body: Json = {}
  const system: Array<GParts.WirePart> = []
  const contents: Array<WireContent> = []
  for (const [i, m] of chat.messages.entries()) {
    if (m.role === "system") {
      for (const p of m.parts) if (p.type === "text" && p.text !== "") system.push({ text: p.text })
      continue
    }
    const parts = GParts.encode(m.parts)
    if (Either.isLeft(parts)) return invalid(parts.left, `messages[${i}]`)
    if (parts.right.length === 0) continue
    const role = m.role === "assistant" ? "model" : "user"
    const last = contents[contents.length - 1]
    // Gemini wants alternating turns, and all results of one step in one user turn.
    if (last !== undefined && last.role === role) last.parts.push(...parts.right)
    else contents.push({ role, parts: parts.right })
  }
  // Every step's first functionCall needs a signature on Gemini 3; history from another
  // provider has none, so it gets Google's documented skip value.
  for (const c of contents) {
    if (c.role !== "model") continue
    const first = c.parts.find((p) => p.functionCall !== undefined)
    if (first !== undefined && !c.parts.some((p) => p.thoughtSignature !== undefined))
      first.thoughtSignature = skipSignature
  }
  body.contents = contents
  if (system.length > 0) body.systemInstruction = { parts: system }

  const jsonSchemaTools = new Set(
    Array.isArray(extras.jsonSchemaTools) ? (extras.jsonSchemaTools as Array<string>) : [],
  )
  const declExtras = isObj(extras.functionDeclarations) ? extras.functionDeclarations : {}
  const tools: Array<Json> = []
  if (chat.tools !== undefined && chat.tools.length > 0) {
    tools.push({
      functionDeclarations: chat.tools.map((t) => {
        const decl: Json = { name: t.name }
        if (t.description !== undefined) decl.description = t.description
        if (t.parameters !== undefined) {
          if (jsonSchemaTools.has(t.name)) decl.parametersJsonSchema = t.parameters
          else {
            const params = JsonSchema.toGemini(t.parameters)
            // A parameterless tool is declared without `parameters` (Gemini refuses an empty OBJECT).
            const props = isObj(params.properties) ? Object.keys(params.properties).length : 0
            if (params.type !== undefined && !(params.type === "OBJECT" && props === 0)) decl.parameters = params
          }
        }
        const more = declExtras[t.name]
        return isObj(more) ? { ...decl, ...more } : decl
      }),
    })
  }
  if (Array.isArray(extras.tools)) tools.push(...(extras.tools as Array<Json>))
  if (tools.length > 0) body.tools = tools

  let toolConfig: Json = {}
  if (chat.toolChoice !== undefined) {
    const fcc: Json = {
      mode: chat.toolChoice.mode === "required" ? "ANY" : chat.toolChoice.mode === "none" ? "NONE" : "AUTO",
    }
    if (chat.toolChoice.allowed !== undefined && chat.toolChoice.mode !== "none") {
      fcc.allowedFunctionNames = [...chat.toolChoice.allowed]
      // Gemini takes allowedFunctionNames only with ANY or VALIDATED; VALIDATED is "auto, but
      // only these functions".
      if (chat.toolChoice.mode === "auto") fcc.mode = "VALIDATED"
    }
    toolConfig.functionCallingConfig = fcc
  }
  if (isObj(extras.toolConfig)) toolConfig = mergeDeep(toolConfig, extras.toolConfig)
  if (Object.keys(toolConfig).length > 0) body.toolConfig = toolConfig

  let gc: Json = {}
  if (chat.temperature !== undefined) gc.temperature = chat.temperature
  if (chat.topP !== undefined) gc.topP = chat.topP
  if (chat.topK !== undefined) gc.topK = chat.topK
  if (chat.candidates !== undefined) {
    if (chat.candidates > 1 && chat.stream)
      return invalid(
        "candidateCount > 1 is not supported with streaming by this gateway",
        "generationConfig.candidateCount",
      )
    gc.candidateCount = chat.candidates
  }
  if (chat.maxTokens !== undefined) gc.maxOutputTokens = chat.maxTokens
  if (chat.stop !== undefined && chat.stop.length > 0) gc.stopSequences = [...chat.stop]
  if (chat.seed !== undefined) gc.seed = chat.seed
  if (chat.presencePenalty !== undefined) gc.presencePenalty = chat.presencePenalty
  if (chat.frequencyPenalty !== undefined) gc.frequencyPenalty = chat.frequencyPenalty
  const rf = chat.responseFormat
  if (rf !== undefined) {
    if (rf.type === "text") gc.responseMimeType = "text/plain"
    else if (rf.type === "json") gc.responseMimeType = "application/json"
    else {
      gc.responseMimeType = "application/json"
      if (extras.responseJsonSchema === true) gc.responseJsonSchema = rf.schema
      else gc.responseSchema = JsonSchema.toGemini(rf.schema)
    }
  }
  const r = chat.reasoning
  if (r !== undefined) {
    const tc: Json = {}
    if (r.includeThoughts !== undefined) tc.includeThoughts = r.includeThoughts
    if (r.budgetTokens !== undefined) tc.thinkingBudget = r.budgetTokens
    else if (r.effort !== undefined) {
      if (usesThinkingLevel(chat.model) && r.effort !== "none") tc.thinkingLevel = r.effort.toUpperCase()
      else tc.thinkingBudget = effortBudget[r.effort]
    }
    if (Object.keys(tc).length > 0) gc.thinkingConfig = tc
  }
  const output = chat.output
  if (output?.modalities !== undefined && output.modalities.length > 0)
    gc.responseModalities = output.modalities.map((m) => m.toUpperCase())
  if (output?.image?.aspectRatio !== undefined || output?.image?.size !== undefined)
    gc.imageConfig = {
      ...(output.image.aspectRatio !== undefined ? { aspectRatio: output.image.aspectRatio } : {}),
      ...(output.image.size !== undefined ? { imageSize: output.image.size } : {}),
    }
  if (output?.audio !== undefined) {
    const sc = Speech.speechConfig(output.audio, voices)
    if (sc instanceof Errors.InvalidRequest) return Either.left(sc)
    if (sc !== undefined) gc.speechConfig = sc
  }
  if (isObj(extras.generationConfig)) gc = mergeDeep(gc, extras.generationConfig)
  if (Object.keys(gc).length > 0) body.generationConfig = gc

  // Everything else Gemini accepts (safetySettings, cachedContent, serviceTier, labels, …).
  const internal = new Set([
    "tools",
    "toolConfig",
    "generationConfig",
    "jsonSchemaTools",
    "functionDeclarations",
    "responseJsonSchema",
    "model",
  ])
  for (const [k, v] of Object.entries(extras)) if (!internal.has(k)) body[k] = v
  return Either.right(body)
}
