/**
 * OpenAI audio (`/v1/audio/speech`, `/v1/audio/transcriptions`) ⇄ canonical. Speech becomes a
 * Chat asking for audio output (`output.modalities: ["audio"]`, voice and format in
 * `output.audio`); a transcription becomes a Chat whose user turn carries the audio file and an
 * instruction to transcribe it. So both pass auth, limits, budgets, guardrails, tracing and
 * routing like any chat. What the client sent travels unchanged in `extras.openai_speech` /
 * `extras.openai_transcription`, which the OpenAI provider sends on as is to a speech or
 * transcription model; other providers (Gemini TTS, Gemini audio understanding) translate.
 */
import { Effect } from "effect"
import { type ChatRequest, type ChatResponse, Errors, type GatewayError, Parts } from "@sluice/schema"
import { Audio, Echo, ModelId } from "@sluice/core"
import * as Multipart from "./Multipart.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const bad = (param: string | undefined, message: string) =>
  Effect.fail(new Errors.InvalidRequest({ message, ...(param === undefined ? {} : { param }) }))

// ---- speech -----------------------------------------------------------------------------------

export const speechFormats = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const
export type SpeechFormat = (typeof speechFormats)[number]

/** The media type each speech format is served as. */
export const speechMediaType: Record<SpeechFormat, string> = {
  mp3: "audio/mpeg",
  opus: "audio/opus",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
}

const speechFields = new Set(["model", "input", "voice", "instructions", "response_format", "speed", "stream_format"])

export interface Speech {
  readonly chat: ChatRequest
  readonly format: SpeechFormat
  readonly sse: boolean
}

/** `input` is at most 4,096 characters (OpenAI's limit). */
export const maxSpeechInput = 4096

export const decodeSpeech = (body: unknown): Effect.Effect<Speech, GatewayError> =>
  Effect.gen(function* () {
    if (!isObj(body)) return yield* bad(undefined, "the request body must be a JSON object")
    for (const k of Object.keys(body))
      if (!speechFields.has(k)) return yield* bad(k, `Unrecognized request argument supplied: ${Echo.cap(k, 64)}`)
    const model = body.model
    if (typeof model !== "string" || model === "") return yield* bad("model", "you must provide a model parameter")
    const reason = ModelId.problem(model)
    if (reason !== undefined) return yield* Effect.fail(ModelId.invalid(reason))
    const input = body.input
    if (typeof input !== "string" || input === "") return yield* bad("input", "Missing required parameter: 'input'.")
    if (input.length > maxSpeechInput)
      return yield* bad("input", `'input' is longer than ${maxSpeechInput} characters (${input.length}).`)
    let voice: string | undefined
    if (typeof body.voice === "string") voice = body.voice
    else if (isObj(body.voice) && typeof body.voice.id === "string") voice = body.voice.id
    else return yield* bad("voice", "Missing required parameter: 'voice'.")
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(voice))
      return yield* bad("voice", `Invalid value for 'voice': ${Echo.cap(voice)}.`)
    const format = body.response_format ?? "mp3"
    if (typeof format !== "string" || !(speechFormats as ReadonlyArray<string>).includes(format))
      return yield* bad(
        "response_format",
        `Invalid value for 'response_format': ${Echo.cap(String(format))}. Supported values are: ${speechFormats.join(", ")}.`,
      )
    if (body.speed !== undefined && !(typeof body.speed === "number" && body.speed >= 0.25 && body.speed <= 4))
      return yield* bad("speed", "'speed' must be a number from 0.25 to 4.0.")
    if (body.instructions !== undefined && typeof body.instructions !== "string")
      return yield* bad("instructions", "'instructions' must be a string.")
    const streamFormat = body.stream_format ?? "audio"
    if (streamFormat !== "audio" && streamFormat !== "sse")
      return yield* bad("stream_format", "Invalid value for 'stream_format': expected 'audio' or 'sse'.")
    const instructions =
      typeof body.instructions === "string" && body.instructions !== "" ? body.instructions : undefined
    // Providers with no instructions field (Gemini TTS) are steered by the prompt itself
    // ("Say cheerfully: …"); an OpenAI speech model gets the fields as sent.
    const text = instructions === undefined ? input : `${instructions}: ${input}`
    const chat: ChatRequest = {
      model,
      messages: [{ role: "user", parts: [Parts.text(text)] }],
      // Streamed either way: `sse` as events, `audio` as bytes while they arrive.
      stream: true,
      output: { modalities: ["audio"], audio: { voice, format } },
      extras: { openai_speech: { ...body } },
    }
    return { chat, format: format as SpeechFormat, sse: streamFormat === "sse" }
  })

/**
 * An answer's audio in the format the client asked for. PCM becomes WAV by a header and WAV
 * becomes PCM by dropping it; any other conversion needs an encoder this gateway does not have.
 */
export const convert = (
  mediaType: string,
  bytes: Uint8Array,
  format: SpeechFormat,
): Effect.Effect<Uint8Array, GatewayError> => {
  if (format === "pcm" || format === "wav") {
    let pcm: Audio.Pcm | undefined
    if (Audio.isPcm(mediaType)) pcm = { rate: Audio.rateOf(mediaType), channels: 1, bits: 16, data: bytes }
    else if (Audio.isWav(mediaType)) pcm = Audio.parseWav(bytes)
    if (pcm !== undefined) {
      if (format === "wav") return Effect.succeed(Audio.wav(pcm.data, pcm.rate, pcm.channels, pcm.bits))
      if (pcm.rate === Audio.speechRate && pcm.channels === 1 && pcm.bits === 16) return Effect.succeed(pcm.data)
    }
  }
  if (sameFormat(mediaType, format)) return Effect.succeed(bytes)
  return Effect.fail(
    new Errors.InvalidRequest({
      message: `response_format '${format}' is not available from this model: it answers ${Echo.cap(mediaType, 64)}, which this gateway can serve as 'wav' or 'pcm' only`,
      param: "response_format",
    }),
  )
}

/** True when audio of `mediaType` is already `format` and can be sent on chunk by chunk. */
export const passes = (mediaType: string, format: SpeechFormat): boolean =>
  format === "pcm"
    ? Audio.isPcm(mediaType) && Audio.rateOf(mediaType) === Audio.speechRate
    : sameFormat(mediaType, format)

const sameFormat = (mediaType: string, format: SpeechFormat): boolean => {
  const m = mediaType.split(";")[0]!.trim().toLowerCase()
  switch (format) {
    case "mp3":
      return m === "audio/mpeg" || m === "audio/mp3"
    case "wav":
      return Audio.isWav(m)
    case "pcm":
      return false
    default:
      return m === `audio/${format}` || (format === "opus" && m === "audio/ogg")
  }
}

// ---- transcription ----------------------------------------------------------------------------

export const transcriptionFormats = ["json", "text", "srt", "verbose_json", "vtt", "diarized_json"] as const
export type TranscriptionFormat = (typeof transcriptionFormats)[number]

/** Formats only an OpenAI transcription model can produce (they need timestamps or speakers). */
export const timedFormats: ReadonlyArray<TranscriptionFormat> = ["srt", "vtt", "diarized_json"]

const transcriptionFields = new Set([
  "file",
  "model",
  "language",
  "prompt",
  "response_format",
  "temperature",
  "timestamp_granularities",
  "timestamp_granularities[]",
  "include",
  "include[]",
  "chunking_strategy",
  "known_speaker_names",
  "known_speaker_names[]",
  "known_speaker_references",
  "known_speaker_references[]",
  "stream",
])

/** The file types OpenAI's transcription endpoint takes, by extension, and their media types. */
export const audioTypes: Record<string, string> = {
  flac: "audio/flac",
  m4a: "audio/mp4",
  mp3: "audio/mpeg",
  mp4: "audio/mp4",
  mpeg: "audio/mpeg",
  mpga: "audio/mpeg",
  oga: "audio/ogg",
  ogg: "audio/ogg",
  wav: "audio/wav",
  webm: "audio/webm",
}

const sniffAudio = (b: Uint8Array): string | undefined => {
  const ascii = (at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n))
  if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WAVE") return "audio/wav"
  if (ascii(0, 4) === "fLaC") return "audio/flac"
  if (ascii(0, 4) === "OggS") return "audio/ogg"
  if (ascii(0, 3) === "ID3" || (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0)) return "audio/mpeg"
  if (ascii(4, 4) === "ftyp") return "audio/mp4"
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return "audio/webm"
  return undefined
}

export interface Transcription {
  readonly chat: ChatRequest
  readonly format: TranscriptionFormat
  readonly language: string | undefined
  /** Seconds of audio, when the file says (WAV). */
  readonly seconds: number | undefined
}

const instruction = (language: string | undefined, prompt: string | undefined): string => {
  let s =
    "Transcribe this audio verbatim. Answer with the transcript only: no preamble, no timestamps, no speaker labels, no commentary."
  if (language !== undefined) s += ` The speech is in the language with ISO-639-1 code "${language}".`
  if (prompt !== undefined) s += ` Earlier text and spellings to follow: ${prompt}`
  return s
}

export const decodeTranscription = (form: FormData): Effect.Effect<Transcription, GatewayError> =>
  Effect.gen(function* () {
    const entries = [...(form as unknown as Iterable<[string, FormDataEntryValue]>)]
    for (const k of new Set(entries.map(([k]) => k)))
      if (!transcriptionFields.has(k))
        return yield* bad(k, `Unrecognized request argument supplied: ${Echo.cap(k, 64)}`)
    const file = form.get("file")
    if (file === null) return yield* bad("file", "Missing required parameter: 'file'.")
    if (typeof file === "string") return yield* bad("file", "'file' must be a file upload.")
    const model = yield* Multipart.text(form, "model")
    if (model === undefined || model === "") return yield* bad("model", "Missing required parameter: 'model'.")
    const reason = ModelId.problem(model)
    if (reason !== undefined) return yield* Effect.fail(ModelId.invalid(reason))
    const format = (yield* Multipart.text(form, "response_format")) ?? "json"
    if (!(transcriptionFormats as ReadonlyArray<string>).includes(format))
      return yield* bad(
        "response_format",
        `Invalid value for 'response_format': ${Echo.cap(format)}. Supported values are: ${transcriptionFormats.join(", ")}.`,
      )
    const language = yield* Multipart.text(form, "language")
    if (language !== undefined && !/^[a-z]{2,3}$/.test(language))
      return yield* bad("language", "'language' must be an ISO-639-1 code such as 'en'.")
    const prompt = yield* Multipart.text(form, "prompt")
    if (prompt !== undefined && prompt.length > 4096)
      return yield* bad("prompt", "'prompt' is longer than 4096 characters.")
    const temperatureText = yield* Multipart.text(form, "temperature")
    const temperature = temperatureText === undefined ? undefined : Number(temperatureText)
    if (temperature !== undefined && !(temperature >= 0 && temperature <= 1))
      return yield* bad("temperature", "'temperature' must be a number from 0 to 1.")
    const stream = yield* Multipart.text(form, "stream")
    if (stream !== undefined && stream !== "false")
      return yield* bad("stream", "streamed transcriptions are not supported by this gateway; leave 'stream' unset.")

    const bytes = new Uint8Array(yield* Effect.promise(() => file.arrayBuffer()))
    if (bytes.length === 0) return yield* bad("file", "The audio file is empty.")
    const ext = /\.([A-Za-z0-9]{2,5})$/.exec(file.name)?.[1]?.toLowerCase()
    const declared = file.type.split(";")[0]!.trim().toLowerCase()
    const mediaType =
      ext !== undefined && ext in audioTypes
        ? audioTypes[ext]!
        : declared.startsWith("audio/")
          ? declared
          : sniffAudio(bytes)
    if (mediaType === undefined || !Object.values(audioTypes).includes(mediaType))
      return yield* bad(
        "file",
        `Invalid file format. Supported formats: ${Object.keys(audioTypes)
          .map((e) => `'${e}'`)
          .join(", ")}`,
      )

    // Every field but the file, as the client sent it, for an OpenAI transcription upstream.
    const fields: Array<[string, string]> = []
    for (const [k, v] of entries) if (k !== "file" && typeof v === "string") fields.push([k, v])
    const name = /^[\w.-]{1,128}$/.test(file.name) ? file.name : `audio.${ext ?? mediaType.slice(6)}`
    const chat: ChatRequest = {
      model,
      messages: [
        {
          role: "user",
          parts: [
            Parts.text(instruction(language, prompt)),
            { type: "image", source: { kind: "base64", mediaType, data: Buffer.from(bytes).toString("base64") } },
          ],
        },
      ],
      stream: false,
      ...(temperature === undefined ? {} : { temperature }),
      extras: { openai_transcription: { fields, filename: name } },
    }
    return {
      chat,
      format: format as TranscriptionFormat,
      language,
      seconds: mediaType === "audio/wav" ? Audio.wavSeconds(bytes) : undefined,
    }
  })

/** What an OpenAI transcription upstream answered, kept whole by the provider. */
export interface Upstream {
  readonly body: unknown
  readonly contentType: string
}

export const upstreamOf = (r: ChatResponse): Upstream | undefined => {
  const u = r.extras?.openai_transcription
  return u !== undefined && "body" in u && typeof u.contentType === "string"
    ? { body: u.body, contentType: u.contentType }
    : undefined
}

/** A canonical answer as the transcription the client asked for. */
export const encodeTranscription = (
  r: ChatResponse,
  t: Transcription,
): Effect.Effect<{ body: unknown; contentType: string }, GatewayError> => {
  const upstream = upstreamOf(r)
  if (upstream !== undefined) return Effect.succeed(upstream)
  if (timedFormats.includes(t.format))
    return bad(
      "response_format",
      `response_format '${t.format}' needs an OpenAI transcription model; this model answers plain text (use json, text or verbose_json)`,
    )
  const text = Parts.textOf(r.parts).trim()
  if (t.format === "text") return Effect.succeed({ body: `${text}\n`, contentType: "text/plain; charset=utf-8" })
  const usage = {
    type: "tokens",
    input_tokens: r.usage.inputTokens,
    output_tokens: r.usage.outputTokens,
    total_tokens: r.usage.inputTokens + r.usage.outputTokens,
  }
  if (t.format === "verbose_json")
    return Effect.succeed({
      body: {
        task: "transcribe",
        language: t.language ?? "unknown",
        duration: t.seconds ?? 0,
        text,
        usage,
      },
      contentType: "application/json",
    })
  return Effect.succeed({ body: { text, usage }, contentType: "application/json" })
}
