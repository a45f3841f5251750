/**
 * Audio for the mock Gemini API, from Google's speech-generation and audio-understanding guides.
 *
 * TTS models (ids containing `-tts`) take text only, must be asked for `responseModalities:
 * ["AUDIO"]` alone, and take a `speechConfig` naming one of Google's prebuilt voices; they answer
 * one `inlineData` part of 24 kHz 16-bit mono PCM (`audio/L16;codec=pcm;rate=24000`), a tone whose
 * pitch depends on the text and voice (`speechPcm`). AUDIO output asked of another model is a 400.
 *
 * Audio input must be one of the documented MIME types (`audio/wav`, `audio/mp3`, `audio/aiff`,
 * `audio/aac`, `audio/ogg`, `audio/flac`); a turn that carries audio is answered with the
 * transcript OpenAIAudio's mock would give for the same bytes.
 */
import { createHash } from "node:crypto"
import { transcriptOf } from "./OpenAIAudio.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export const voices = [
  "Zephyr",
  "Puck",
  "Charon",
  "Kore",
  "Fenrir",
  "Leda",
  "Orus",
  "Aoede",
  "Callirrhoe",
  "Autonoe",
  "Enceladus",
  "Iapetus",
  "Umbriel",
  "Algieba",
  "Despina",
  "Erinome",
  "Algenib",
  "Rasalgethi",
  "Laomedeia",
  "Achernar",
  "Alnilam",
  "Schedar",
  "Gacrux",
  "Pulcherrima",
  "Achird",
  "Zubenelgenubi",
  "Vindemiatrix",
  "Sadachbia",
  "Sadaltager",
  "Sulafat",
]

export const audioTypes = ["audio/wav", "audio/mp3", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac"]

export const pcmType = "audio/L16;codec=pcm;rate=24000"

/** Gemini bills audio output at 25 tokens a second. */
export const tokensPerSecond = 25

export const isTts = (model: string) => model.includes("-tts")

/** 24 kHz 16-bit mono PCM: 300 ms of a tone whose pitch depends on the text and voice. */
export const speechPcm = (text: string, voice: string): Buffer => {
  const h = createHash("sha256").update(`gemini|${voice}|${text}`).digest()
  const hz = 180 + (h.readUInt16BE(0) % 700)
  const rate = 24_000
  const n = (rate * 3) / 10
  const out = Buffer.alloc(n * 2)
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 7000), i * 2)
  return out
}

const voiceOf = (gc: Json): string | undefined => {
  const sc = gc.speechConfig
  if (!isObj(sc) || !isObj(sc.voiceConfig) || !isObj(sc.voiceConfig.prebuiltVoiceConfig)) return undefined
  const v = sc.voiceConfig.prebuiltVoiceConfig.voiceName
  return typeof v === "string" ? v : undefined
}

const partsOf = (body: Json): Array<Json> =>
  (Array.isArray(body.contents) ? (body.contents as Array<Json>) : []).flatMap((c) =>
    isObj(c) && Array.isArray(c.parts) ? (c.parts as Array<Json>) : [],
  )

/** Why Google would refuse this request's audio, or undefined. */
export const problem = (
  body: Json,
  model: string,
  modalities: ReadonlyArray<string> | undefined,
): string | undefined => {
  for (const p of partsOf(body)) {
    const d = isObj(p.inlineData) ? p.inlineData : undefined
    if (d !== undefined && String(d.mimeType).startsWith("audio/") && !audioTypes.includes(String(d.mimeType)))
      return `Unsupported MIME type: ${String(d.mimeType)}`
  }
  const gc = isObj(body.generationConfig) ? body.generationConfig : {}
  if (!isTts(model)) {
    if (modalities?.includes("AUDIO") === true || gc.speechConfig !== undefined)
      return "Model does not support the requested response modalities: audio"
    return undefined
  }
  if (!(modalities !== undefined && modalities.length === 1 && modalities[0] === "AUDIO"))
    return "The requested combination of response modalities (TEXT) is not supported by the model. Use AUDIO."
  if (partsOf(body).some((p) => p.text === undefined)) return "Only text input is supported by this model."
  if (gc.speechConfig !== undefined) {
    const voice = voiceOf(gc)
    if (voice === undefined) return "Invalid value at 'generation_config.speech_config'"
    if (!voices.includes(voice)) return `Voice ${voice} is not supported.`
  }
  return undefined
}

/** The answer's parts when the request is about audio (speech out, or audio in), else undefined. */
export const answer = (body: Json, model: string, prompt: string): Array<Json> | undefined => {
  if (isTts(model)) {
    const gc = isObj(body.generationConfig) ? body.generationConfig : {}
    const pcm = speechPcm(prompt, voiceOf(gc) ?? "Kore")
    return [{ inlineData: { mimeType: pcmType, data: pcm.toString("base64") } }]
  }
  const contents = Array.isArray(body.contents) ? (body.contents as Array<Json>) : []
  const last = contents[contents.length - 1]
  const heard = (isObj(last) && Array.isArray(last.parts) ? (last.parts as Array<Json>) : [])
    .map((p) => (isObj(p.inlineData) ? p.inlineData : undefined))
    .filter((d): d is Json => d !== undefined && String(d.mimeType).startsWith("audio/"))
  if (heard.length === 0) return undefined
  return [{ text: heard.map((d) => transcriptOf(Buffer.from(String(d.data), "base64"))).join("\n") }]
}

/** Output tokens of the audio parts in an answer. */
export const outputTokens = (parts: ReadonlyArray<Json>): number => {
  let bytes = 0
  for (const p of parts)
    if (isObj(p.inlineData) && String(p.inlineData.mimeType).startsWith("audio/"))
      bytes += Buffer.from(String(p.inlineData.data), "base64").length
  return Math.ceil((bytes / 48_000) * tokensPerSecond)
}
