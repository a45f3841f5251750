/** Canonical events ⇄ a Gemini Live upstream's frames (`setup` first; Live resamples any declared input rate). */
import type { Usage } from "@sluice/schema"
import type { Input, Output, SessionConfig } from "./Events.ts"
import { arr, num, obj, type Obj, parse, str } from "./Json.ts"
import * as Pcm from "./Pcm.ts"
import type { Translator } from "./Upstream.ts"
import { defaultConfig } from "./Events.ts"

export const path = (version: string, method = "BidiGenerateContent") =>
  `/ws/google.ai.generativelanguage.${version}.GenerativeService.${method}`

export const setupOf = (model: string, config: SessionConfig): Obj => ({
  setup: {
    model: `models/${model}`,
    generationConfig: {
      responseModalities: [config.modality === "audio" ? "AUDIO" : "TEXT"],
      ...(config.maxOutputTokens !== undefined ? { maxOutputTokens: config.maxOutputTokens } : {}),
      ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
      // Live's voices have capitalised names; another protocol's voice name is not one of them.
      ...(config.voice !== undefined && /^[A-Z][a-z]+$/.test(config.voice)
        ? { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: config.voice } } } }
        : {}),
    },
    ...(config.instructions !== undefined ? { systemInstruction: { parts: [{ text: config.instructions }] } } : {}),
    ...(config.tools.length > 0
      ? {
          tools: [
            {
              functionDeclarations: config.tools.map((t) => ({
                name: t.name,
                ...(t.description !== undefined ? { description: t.description } : {}),
                ...(t.parameters !== undefined ? { parametersJsonSchema: t.parameters } : {}),
              })),
            },
          ],
        }
      : {}),
    ...(config.inputTranscription ? { inputAudioTranscription: {} } : {}),
    ...(config.modality === "audio" ? { outputAudioTranscription: {} } : {}),
  },
})

const usageOf = (u: Obj | undefined): Usage | undefined => {
  if (u === undefined) return undefined
  const input = num(u.promptTokenCount) ?? 0
  const output = (num(u.responseTokenCount) ?? num(u.candidatesTokenCount) ?? 0) + (num(u.thoughtsTokenCount) ?? 0)
  return { inputTokens: input, outputTokens: output }
}

const durationMs = (s: unknown): number => {
  const m = typeof s === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(s) : null
  return m ? Math.round(Number(m[1]) * 1000) : 0
}

export const make = (model: string): Translator => {
  let setupSent = false
  const pendingText: Array<string> = []
  /** Live goes on by itself after a tool response or the end of audio: the client's next "respond" is not needed. */
  let afterTool = false
  let usage: Usage | undefined
  /** Tool calls end the turn for the client; Live's own turnComplete for it, if any, is dropped. */
  let toolTurnOpen = false
  const frame = (o: Obj) => JSON.stringify(o)
  const ensureSetup = (): Array<string> => {
    if (setupSent) return []
    setupSent = true
    return [frame(setupOf(model, defaultConfig))]
  }

  const encode = (input: Input): ReadonlyArray<string> => {
    switch (input._tag) {
      case "Configure":
        if (setupSent) return []
        setupSent = true
        return [frame(setupOf(model, input.config))]
      case "Text":
        pendingText.push(input.text)
        return ensureSetup()
      case "Audio":
        afterTool = false
        return [
          ...ensureSetup(),
          frame({
            realtimeInput: { audio: { data: input.pcm.toString("base64"), mimeType: `audio/pcm;rate=${input.rate}` } },
          }),
        ]
      case "AudioEnd":
        // Live answers the end of audio by itself: the client's next "respond" is not needed.
        afterTool = true
        return [...ensureSetup(), frame({ realtimeInput: { audioStreamEnd: true } })]
      case "ToolResult": {
        afterTool = true
        const response = obj(input.output) ?? { output: input.output }
        return [
          ...ensureSetup(),
          frame({ toolResponse: { functionResponses: [{ id: input.id, name: input.name, response }] } }),
        ]
      }
      case "Respond": {
        if (afterTool && pendingText.length === 0) {
          afterTool = false
          return []
        }
        afterTool = false
        const texts = pendingText.splice(0)
        return [
          ...ensureSetup(),
          frame({
            clientContent: {
              turns: texts.length > 0 ? [{ role: "user", parts: texts.map((text) => ({ text })) }] : [],
              turnComplete: true,
            },
          }),
        ]
      }
      case "Cancel":
        return []
    }
  }

  const decode = (text: string): ReadonlyArray<Output> => {
    const message = parse(text)
    if (message === undefined) return []
    const out: Array<Output> = []
    const u = usageOf(obj(message.usageMetadata))
    if (u !== undefined) usage = u
    if (message.setupComplete !== undefined) out.push({ _tag: "Ready" })
    const content = obj(message.serverContent)
    if (content !== undefined) {
      for (const p of arr(obj(content.modelTurn)?.parts)) {
        const part = obj(p)
        if (part === undefined || part.thought === true) continue
        const t = str(part.text)
        if (t !== undefined && t !== "") out.push({ _tag: "TextDelta", text: t })
        const inline = obj(part.inlineData)
        const data = str(inline?.data)
        if (data !== undefined) {
          const rate = Pcm.rateOf(str(inline?.mimeType) ?? "", 24_000) ?? 24_000
          out.push({ _tag: "AudioDelta", pcm: Buffer.from(data, "base64"), rate })
        }
      }
      const input = str(obj(content.inputTranscription)?.text)
      if (input) out.push({ _tag: "InputTranscript", text: input })
      const output = str(obj(content.outputTranscription)?.text)
      if (output) out.push({ _tag: "OutputTranscript", text: output })
      if (content.interrupted === true) out.push({ _tag: "Interrupted" })
      // Content after the tool calls belongs to the model's answer to them: its turnComplete counts.
      if (out.length > 0) toolTurnOpen = false
      if (content.turnComplete === true) {
        if (toolTurnOpen && out.length === 0) toolTurnOpen = false
        else out.push({ _tag: "TurnDone", status: content.interrupted === true ? "cancelled" : "completed", usage })
        usage = undefined
      }
    }
    const toolCall = obj(message.toolCall)
    if (toolCall !== undefined) {
      const calls = arr(toolCall.functionCalls).flatMap((c) => {
        const call = obj(c)
        const name = str(call?.name)
        return name === undefined
          ? []
          : [
              {
                id: str(call?.id) ?? `call_${Math.random().toString(36).slice(2, 12)}`,
                name,
                args: obj(call?.args) ?? {},
              },
            ]
      })
      out.push({ _tag: "ToolCalls", calls }, { _tag: "TurnDone", status: "completed", usage })
      usage = undefined
      toolTurnOpen = true
    }
    const goAway = obj(message.goAway)
    if (goAway !== undefined) out.push({ _tag: "GoAway", timeLeftMs: durationMs(goAway.timeLeft) })
    return out
  }

  return { encode, decode }
}
