/** Canonical events ⇄ an OpenAI Realtime upstream's GA events (PCM16 at 24 kHz only: other rates are resampled). */
import type { Usage } from "@sluice/schema"
import type { Input, Output, SessionConfig, ToolCall } from "./Events.ts"
import { num, obj, type Obj, parse, str } from "./Json.ts"
import * as Pcm from "./Pcm.ts"
import { rate } from "./RealtimeCodec.ts"
import type { Translator } from "./Upstream.ts"

const openaiVoices = new Set(["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"])

export const sessionOf = (config: SessionConfig): Obj => ({
  type: "realtime",
  output_modalities: [config.modality],
  ...(config.instructions !== undefined ? { instructions: config.instructions } : {}),
  tools: config.tools.map((t) => ({
    type: "function",
    name: t.name,
    ...(t.description !== undefined ? { description: t.description } : {}),
    parameters: t.parameters ?? { type: "object", properties: {} },
  })),
  ...(config.maxOutputTokens !== undefined ? { max_output_tokens: config.maxOutputTokens } : {}),
  audio: {
    input: {
      format: { type: "audio/pcm", rate },
      // A Live client ends its audio turn itself (audioStreamEnd/activityEnd): no server VAD.
      turn_detection: null,
      ...(config.inputTranscription ? { transcription: { model: "whisper-1" } } : {}),
    },
    output: {
      format: { type: "audio/pcm", rate },
      ...(config.voice !== undefined && openaiVoices.has(config.voice) ? { voice: config.voice } : {}),
    },
  },
})

const usageOf = (u: Obj | undefined): Usage | undefined => {
  if (u === undefined) return undefined
  return { inputTokens: num(u.input_tokens) ?? 0, outputTokens: num(u.output_tokens) ?? 0 }
}

export const make = (): Translator => {
  let events = 0
  const ev = (type: string, body: Obj = {}) =>
    JSON.stringify({ type, event_id: `event_gw${(++events).toString(36)}`, ...body })
  let configured = false
  let audioSent = 0
  let calls: Array<ToolCall> = []
  let responding = false

  const encode = (input: Input): ReadonlyArray<string> => {
    switch (input._tag) {
      case "Configure":
        configured = true
        return [ev("session.update", { session: sessionOf(input.config) })]
      case "Text":
        return [
          ev("conversation.item.create", {
            item: { type: "message", role: "user", content: [{ type: "input_text", text: input.text }] },
          }),
        ]
      case "Audio":
        audioSent += input.pcm.length
        return [
          ev("input_audio_buffer.append", { audio: Pcm.resample(input.pcm, input.rate, rate).toString("base64") }),
        ]
      case "AudioEnd": {
        // The "respond" that follows (response.create, or Live's implicit one) asks for the answer.
        if (audioSent === 0) return []
        audioSent = 0
        return [ev("input_audio_buffer.commit")]
      }
      case "ToolResult":
        return [
          ev("conversation.item.create", {
            item: {
              type: "function_call_output",
              call_id: input.id,
              output: typeof input.output === "string" ? input.output : JSON.stringify(input.output),
            },
          }),
        ]
      case "Respond":
        return [ev("response.create")]
      case "Cancel":
        return responding ? [ev("response.cancel")] : []
    }
  }

  const decode = (text: string): ReadonlyArray<Output> => {
    const event = parse(text)
    const type = str(event?.type)
    if (event === undefined || type === undefined) return []
    switch (type) {
      case "session.updated":
        return configured ? [{ _tag: "Ready" }] : []
      case "response.created":
        responding = true
        return []
      case "response.output_text.delta":
        return [{ _tag: "TextDelta", text: str(event.delta) ?? "" }]
      case "response.output_audio.delta":
        return [{ _tag: "AudioDelta", pcm: Buffer.from(str(event.delta) ?? "", "base64"), rate }]
      case "response.output_audio_transcript.delta":
        return [{ _tag: "OutputTranscript", text: str(event.delta) ?? "" }]
      case "conversation.item.input_audio_transcription.completed":
        return [{ _tag: "InputTranscript", text: str(event.transcript) ?? "" }]
      case "input_audio_buffer.speech_started":
        return responding ? [{ _tag: "Interrupted" }] : []
      case "response.function_call_arguments.done": {
        let args: Obj = {}
        try {
          args = obj(JSON.parse(str(event.arguments) ?? "{}")) ?? {}
        } catch {}
        calls.push({ id: str(event.call_id) ?? "", name: str(event.name) ?? "", args })
        return []
      }
      case "response.done": {
        responding = false
        const response = obj(event.response)
        const status = str(response?.status)
        const out: Array<Output> = []
        if (calls.length > 0) out.push({ _tag: "ToolCalls", calls })
        calls = []
        out.push({
          _tag: "TurnDone",
          status: status === "cancelled" ? "cancelled" : status === "failed" ? "failed" : "completed",
          usage: usageOf(obj(response?.usage)),
        })
        return out
      }
      case "error": {
        const error = obj(event.error)
        return [{ _tag: "Error", message: str(error?.message) ?? "upstream error", code: str(error?.code) }]
      }
      default:
        return []
    }
  }

  return { encode, decode }
}
