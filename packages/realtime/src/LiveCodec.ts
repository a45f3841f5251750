/**
 * The Gemini Live client protocol (BidiGenerateContent): `setup` first, then `clientContent`,
 * `realtimeInput` and `toolResponse`; out go `setupComplete`, `serverContent`, `toolCall`,
 * `usageMetadata` and `goAway`. Live has no error message: a refused frame ends the session with
 * a close code (1007 invalid argument, 1008 policy, 1011 internal) and the reason as text.
 */
import { type ClientCodec, type Decoded, ok, refuse } from "./Codec.ts"
import type { Ending, Input, Output, SessionConfig, ToolDecl } from "./Events.ts"
import { arr, b64, echo, num, obj, type Obj, parse, str } from "./Json.ts"
import * as Pcm from "./Pcm.ts"

const messageKinds: Record<string, string> = {
  setup: "setup",
  clientContent: "clientContent",
  client_content: "clientContent",
  realtimeInput: "realtimeInput",
  realtime_input: "realtimeInput",
  toolResponse: "toolResponse",
  tool_response: "toolResponse",
}

/** Live accepts camelCase and snake_case field names. */
const field = (o: Obj | undefined, camel: string): unknown => {
  if (o === undefined) return undefined
  if (camel in o) return o[camel]
  return o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]
}

const textOf = (content: unknown): string =>
  arr(field(obj(content), "parts"))
    .map((p) => str(field(obj(p), "text")) ?? "")
    .join("")

/** The session config a `setup` asks for. */
export const configOf = (setup: Obj): SessionConfig | string => {
  const generation = obj(field(setup, "generationConfig"))
  const modalities = arr(field(generation, "responseModalities")).map((m) => String(m).toUpperCase())
  if (modalities.length > 1) return "setup.generationConfig.responseModalities: a Live session has one modality"
  const modality = modalities[0] === "AUDIO" ? "audio" : "text"
  const system = field(setup, "systemInstruction")
  const instructions = typeof system === "string" ? system : system === undefined ? undefined : textOf(system)
  const tools: Array<ToolDecl> = []
  for (const tool of arr(field(setup, "tools")))
    for (const fn of arr(field(obj(tool), "functionDeclarations"))) {
      const f = obj(fn)
      const name = str(f?.name)
      if (name === undefined) return "setup.tools.functionDeclarations: every function needs a name"
      tools.push({
        name,
        description: str(f?.description),
        parameters: field(f, "parametersJsonSchema") ?? f?.parameters,
      })
    }
  const voice = str(
    field(
      obj(field(obj(field(obj(field(generation, "speechConfig")), "voiceConfig")), "prebuiltVoiceConfig")),
      "voiceName",
    ),
  )
  return {
    instructions: instructions || undefined,
    tools,
    modality,
    voice,
    maxOutputTokens: num(field(generation, "maxOutputTokens")),
    temperature: num(field(generation, "temperature")),
    inputTranscription: field(setup, "inputAudioTranscription") !== undefined,
    outputTranscription: field(setup, "outputAudioTranscription") !== undefined,
  }
}

const frame = (o: Obj) => JSON.stringify(o)

export const make = (): ClientCodec => {
  let setupSeen = false
  /** A turn that ended in tool calls is not complete for Live: the model goes on after the answers. */
  let toolTurn = false

  const decodeRealtimeInput = (input: Obj): Decoded => {
    const inputs: Array<Input> = []
    const audio = obj(field(input, "audio"))
    const chunks = [...(audio !== undefined ? [audio] : []), ...arr(field(input, "mediaChunks")).map(obj)]
    for (const chunk of chunks) {
      const mime = str(field(chunk, "mimeType")) ?? ""
      if (mime.startsWith("image/") || mime.startsWith("video/")) continue
      const rate = Pcm.rateOf(mime)
      if (rate === undefined)
        return refuse(`realtimeInput.audio.mimeType: expected audio/pcm;rate=N, got "${echo(mime)}"`)
      const pcm = b64(field(chunk, "data"))
      if (pcm === undefined) return refuse("realtimeInput.audio.data: expected base64")
      inputs.push({ _tag: "Audio", pcm, rate })
    }
    const text = str(field(input, "text"))
    if (text !== undefined) inputs.push({ _tag: "Text", text }, { _tag: "Respond" })
    if (field(input, "audioStreamEnd") === true || field(input, "activityEnd") !== undefined)
      inputs.push({ _tag: "AudioEnd" }, { _tag: "Respond" })
    return ok(inputs)
  }

  const decode = (text: string): Decoded => {
    const message = parse(text)
    if (message === undefined) return refuse("invalid JSON: each message must be one JSON object")
    const keys = Object.keys(message)
    if (keys.length !== 1)
      return refuse("each message must have exactly one of setup, clientContent, realtimeInput, toolResponse")
    const kind = messageKinds[keys[0]!]
    if (kind === undefined) return refuse(`unknown message field "${echo(keys[0]!)}"`)
    const body = obj(message[keys[0]!])
    if (body === undefined) return refuse(`${kind}: expected an object`)
    if (!setupSeen && kind !== "setup") return refuse(`the first message must be setup, got ${kind}`)
    switch (kind) {
      case "setup": {
        if (setupSeen) return refuse("setup was already sent; the session's config cannot change")
        const model = str(body.model)
        if (model === undefined || model === "") return refuse("setup.model: required")
        const config = configOf(body)
        if (typeof config === "string") return refuse(config)
        setupSeen = true
        return { ...ok([{ _tag: "Configure", config }]), model: model.replace(/^models\//, "") }
      }
      case "clientContent": {
        const inputs: Array<Input> = []
        for (const turn of arr(field(body, "turns"))) {
          const role = str(field(obj(turn), "role")) ?? "user"
          const t = textOf(turn)
          if (role === "user" && t !== "") inputs.push({ _tag: "Text", text: t })
        }
        if (field(body, "turnComplete") === true) inputs.push({ _tag: "Respond" })
        return ok(inputs)
      }
      case "realtimeInput":
        return decodeRealtimeInput(body)
      default: {
        const inputs: Array<Input> = []
        for (const r of arr(field(body, "functionResponses"))) {
          const fr = obj(r)
          const id = str(fr?.id)
          const name = str(fr?.name)
          if (id === undefined || name === undefined)
            return refuse("toolResponse.functionResponses: every response needs id and name")
          inputs.push({ _tag: "ToolResult", id, name, output: fr?.response ?? {} })
        }
        if (inputs.length === 0) return refuse("toolResponse.functionResponses: required")
        inputs.push({ _tag: "Respond" })
        return ok(inputs)
      }
    }
  }

  const encode = (out: Output): ReadonlyArray<string> => {
    switch (out._tag) {
      case "Ready":
        return [frame({ setupComplete: {} })]
      case "TextDelta":
        return [frame({ serverContent: { modelTurn: { role: "model", parts: [{ text: out.text }] } } })]
      case "AudioDelta":
        return [
          frame({
            serverContent: {
              modelTurn: {
                role: "model",
                parts: [{ inlineData: { mimeType: `audio/pcm;rate=${out.rate}`, data: out.pcm.toString("base64") } }],
              },
            },
          }),
        ]
      case "OutputTranscript":
        return [frame({ serverContent: { outputTranscription: { text: out.text } } })]
      case "InputTranscript":
        return [frame({ serverContent: { inputTranscription: { text: out.text } } })]
      case "ToolCalls":
        toolTurn = true
        return [
          frame({ toolCall: { functionCalls: out.calls.map((c) => ({ id: c.id, name: c.name, args: c.args })) } }),
        ]
      case "Interrupted":
        return [frame({ serverContent: { interrupted: true } })]
      case "GoAway":
        return [frame({ goAway: { timeLeft: `${Math.max(0, Math.round(out.timeLeftMs / 1000))}s` } })]
      case "Error":
        return []
      case "TurnDone": {
        const usage =
          out.usage === undefined
            ? undefined
            : {
                promptTokenCount: out.usage.inputTokens,
                responseTokenCount: out.usage.outputTokens,
                totalTokenCount: out.usage.inputTokens + out.usage.outputTokens,
              }
        const wasTool = toolTurn
        toolTurn = false
        if (wasTool) return usage === undefined ? [] : [frame({ usageMetadata: usage })]
        return [
          frame({
            serverContent: {
              generationComplete: true,
              turnComplete: true,
              ...(out.status === "cancelled" ? { interrupted: true } : {}),
            },
            ...(usage !== undefined ? { usageMetadata: usage } : {}),
          }),
        ]
      }
    }
  }

  const closeCode = (ending: Ending): number => {
    switch (ending._tag) {
      case "Invalid":
        return 1007
      case "Policy":
        return 1008
      case "Normal":
        return 1000
      default:
        return 1011
    }
  }

  const rewrite = (text: string, upstreamModel: string): string => {
    const message = parse(text)
    const setup = obj(message?.setup)
    if (setup === undefined) return text
    return JSON.stringify({ setup: { ...setup, model: `models/${upstreamModel}` } })
  }

  return {
    format: "gemini",
    greeting: () => [],
    decode,
    encode,
    errorFrames: () => [],
    fatal: true,
    closeCode,
    rewrite,
  }
}
