/**
 * Canonical audio requests to an OpenAI speech or transcription upstream (`/audio/speech`,
 * `/audio/transcriptions`). What an OpenAI client sent rides in `extras.openai_speech` /
 * `extras.openai_transcription` and goes on as is (the model replaced by the route's); a
 * request from another format is built from the canonical one: the text to speak with
 * `output.audio`'s voice and format, or the prompt's audio file.
 */
import { type ChatRequest, type ChatResponse, Parts, type StreamEvent, type Usage } from "@sluice/schema"
import { Audio, Wildcard } from "@sluice/core"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const matches = (patterns: ReadonlyArray<string>, model: string) => patterns.some((p) => Wildcard.matches(p, model))

export const isSpeechRequest = (chat: ChatRequest, patterns: ReadonlyArray<string>): boolean =>
  chat.output?.modalities?.includes("audio") === true && matches(patterns, chat.model)

const audioPart = (chat: ChatRequest): Parts.ImagePart | undefined => {
  for (let i = chat.messages.length - 1; i >= 0; i--)
    for (const p of chat.messages[i]!.parts)
      if (p.type === "image" && p.source.kind === "base64" && p.source.mediaType.startsWith("audio/")) return p
  return undefined
}

export const isTranscriptionRequest = (chat: ChatRequest, patterns: ReadonlyArray<string>): boolean =>
  matches(patterns, chat.model) && audioPart(chat) !== undefined

const mediaTypes: Record<string, string> = {
  mp3: "audio/mpeg",
  opus: "audio/opus",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  // Google's label for the same bytes, so a Gemini client gets the inlineData its TTS would send.
  pcm: `audio/L16;codec=pcm;rate=${Audio.speechRate}`,
}

/** True when the client asked for `speech.audio.*` events (`stream_format: "sse"`). */
export const wantsEvents = (chat: ChatRequest): boolean => chat.extras?.openai_speech?.stream_format === "sse"

/** The `/audio/speech` body (events when `sse`), and the media type its answer will be. */
export const speechBody = (chat: ChatRequest, sse: boolean): { body: Json; mediaType: string } => {
  const given = chat.extras?.openai_speech
  const body: Json = isObj(given)
    ? { ...given }
    : {
        input: chat.messages
          .filter((m) => m.role === "user")
          .map((m) => Parts.textOf(m.parts))
          .join("\n"),
        voice: chat.output?.audio?.voice ?? "alloy",
        response_format: chat.output?.audio?.format ?? "pcm",
      }
  body.model = chat.model
  if (sse) body.stream_format = "sse"
  else delete body.stream_format
  const format = typeof body.response_format === "string" ? body.response_format : "mp3"
  return { body, mediaType: mediaTypes[format] ?? "audio/mpeg" }
}

/** A speech answer's bytes as a canonical answer with one audio part. */
export const speechResponse = (bytes: Uint8Array, mediaType: string, model: string): ChatResponse => ({
  id: `speech-${crypto.randomUUID()}`,
  model,
  parts: [{ type: "image", source: { kind: "base64", mediaType, data: Buffer.from(bytes).toString("base64") } }],
  finishReason: "stop",
  usage: { inputTokens: 0, outputTokens: 0 },
  created: Math.floor(Date.now() / 1000),
})

const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

/** One event of a speech SSE stream (`speech.audio.delta` / `speech.audio.done`) as canonical events. */
export const speechEvent = (data: unknown, mediaType: string): Array<StreamEvent> => {
  if (!isObj(data)) return []
  if (data.type === "speech.audio.delta" && typeof data.audio === "string")
    return [{ _tag: "image", mediaType, data: data.audio }]
  if (data.type === "speech.audio.done") {
    const u = isObj(data.usage) ? data.usage : {}
    const usage: Usage = { inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens) }
    return [{ _tag: "finish", finishReason: "stop", usage }]
  }
  return []
}

const extOf = (mediaType: string): string => {
  const m = mediaType.split(";")[0]!.slice(6)
  return m === "mpeg" ? "mp3" : m === "mp4" ? "m4a" : m
}

/** The `/audio/transcriptions` form: the client's fields as sent (or a json request), and the file. */
export const transcriptionForm = (chat: ChatRequest): FormData => {
  const given = chat.extras?.openai_transcription
  const form = new FormData()
  const fields = isObj(given) && Array.isArray(given.fields) ? (given.fields as Array<[string, string]>) : []
  form.append("model", chat.model)
  for (const [k, v] of fields) if (k !== "model") form.append(k, v)
  if (fields.length === 0) form.append("response_format", "json")
  const part = audioPart(chat)!
  const source = part.source as { mediaType: string; data: string }
  const name = isObj(given) && typeof given.filename === "string" ? given.filename : `audio.${extOf(source.mediaType)}`
  form.append("file", new File([Buffer.from(source.data, "base64")], name, { type: source.mediaType }))
  return form
}

/** A transcription answer (JSON or text, as the format asked) as a canonical answer that keeps it whole. */
export const transcriptionResponse = (body: unknown, contentType: string, model: string): ChatResponse => {
  const text = typeof body === "string" ? body : isObj(body) && typeof body.text === "string" ? body.text : ""
  const u = isObj(body) && isObj(body.usage) ? body.usage : {}
  return {
    id: `transcription-${crypto.randomUUID()}`,
    model,
    parts: [Parts.text(text)],
    finishReason: "stop",
    usage: { inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens) },
    created: Math.floor(Date.now() / 1000),
    extras: { openai_transcription: { body, contentType } },
  }
}
