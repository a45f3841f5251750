/**
 * OpenAI's audio API for the mock OpenAI upstream, written by hand from OpenAI's API reference:
 * `POST /audio/speech` (JSON; the audio bytes, or `speech.audio.delta`/`speech.audio.done`
 * events with `stream_format: "sse"`) and `POST /audio/transcriptions` (multipart). Strict as
 * OpenAI is: unknown parameters, a missing input or voice, an unknown voice or format, `speed`
 * out of range, `instructions` or `sse` on tts-1, a file of another type, a `response_format`
 * the model does not offer, and a file over 25 MB are errors in OpenAI's shape.
 *
 * The voice is a tone whose pitch derives from the input and voice (`speechPcm`); `wav` wraps it,
 * other formats are the PCM behind that format's magic bytes (enough to tell them apart). A
 * transcript names the audio's hash (`transcriptOf`), so a test can tell which file was heard.
 */
import { createHash } from "node:crypto"
import type * as Http from "node:http"
import type * as MockUpstream from "../MockUpstream.ts"

type Json = Record<string, unknown>

const fail = (
  res: Http.ServerResponse,
  message: string,
  param: string | null,
  code: string | null = null,
  status = 400,
) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify({ error: { message, type: "invalid_request_error", param, code } }))
}

export const speechModels = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]
export const voices = [
  "alloy",
  "ash",
  "ballad",
  "coral",
  "echo",
  "fable",
  "onyx",
  "nova",
  "sage",
  "shimmer",
  "verse",
  "marin",
  "cedar",
]
const formats = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
const speechParams = new Set(["model", "input", "voice", "instructions", "response_format", "speed", "stream_format"])

/** 24 kHz 16-bit mono PCM: 200 ms of a tone whose pitch depends on the text and voice. */
export const speechPcm = (input: string, voice: string): Buffer => {
  const h = createHash("sha256").update(`${voice}|${input}`).digest()
  const hz = 200 + (h.readUInt16BE(0) % 800)
  const rate = 24_000
  const n = rate / 5
  const out = Buffer.alloc(n * 2)
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 6000), i * 2)
  return out
}

const wavOf = (pcm: Buffer): Buffer => {
  const h = Buffer.alloc(44)
  h.write("RIFF", 0, "ascii")
  h.writeUInt32LE(36 + pcm.length, 4)
  h.write("WAVEfmt ", 8, "ascii")
  h.writeUInt32LE(16, 16)
  h.writeUInt16LE(1, 20)
  h.writeUInt16LE(1, 22)
  h.writeUInt32LE(24_000, 24)
  h.writeUInt32LE(48_000, 28)
  h.writeUInt16LE(2, 32)
  h.writeUInt16LE(16, 34)
  h.write("data", 36, "ascii")
  h.writeUInt32LE(pcm.length, 40)
  return Buffer.concat([h, pcm])
}

const magic: Record<string, Buffer> = {
  mp3: Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x00", "latin1"),
  opus: Buffer.from("OggS\x00\x02", "latin1"),
  aac: Buffer.from([0xff, 0xf1, 0x50, 0x80]),
  flac: Buffer.from("fLaC", "latin1"),
}

/** The bytes this mock speaks for `input` in `voice` and `format`. */
export const speechBytes = (input: string, voice: string, format: string): Buffer => {
  const pcm = speechPcm(input, voice)
  if (format === "pcm") return pcm
  if (format === "wav") return wavOf(pcm)
  return Buffer.concat([magic[format]!, pcm])
}

const contentTypes: Record<string, string> = {
  mp3: "audio/mpeg",
  opus: "audio/opus",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
}

/** Bodies of the speech requests received. */
export const speechLog: Array<Json> = []

export const speech: MockUpstream.Responder = (req, res) => {
  const body = typeof req.body === "object" && req.body !== null ? (req.body as Json) : undefined
  if (body === undefined) return fail(res, "We could not parse the JSON body of your request.", null)
  speechLog.push(body)
  for (const k of Object.keys(body))
    if (!speechParams.has(k)) return fail(res, `Unrecognized request argument supplied: ${k}`, k)
  const model = body.model
  if (typeof model !== "string" || !speechModels.includes(model))
    return fail(res, `Invalid value for 'model' = ${String(model)}.`, "model", "invalid_value")
  if (typeof body.input !== "string" || body.input === "")
    return fail(res, "Missing required parameter: 'input'.", "input", "missing_required_parameter")
  if (body.input.length > 4096)
    return fail(res, "String too long. Expected a string with maximum length 4096.", "input", "string_above_max_length")
  if (typeof body.voice !== "string" || !voices.includes(body.voice))
    return fail(res, `Invalid value for 'voice' = ${String(body.voice)}.`, "voice", "invalid_value")
  const format = body.response_format ?? "mp3"
  if (typeof format !== "string" || !formats.includes(format))
    return fail(res, `Invalid value for 'response_format' = ${String(format)}.`, "response_format", "invalid_value")
  if (body.speed !== undefined && !(typeof body.speed === "number" && body.speed >= 0.25 && body.speed <= 4))
    return fail(res, "Invalid 'speed': must be between 0.25 and 4.0.", "speed", "invalid_value")
  const tts1 = model.startsWith("tts-1")
  if (tts1 && body.instructions !== undefined)
    return fail(res, "Instructions are not supported for tts-1 models.", "instructions")
  const sse = body.stream_format === "sse"
  if (body.stream_format !== undefined && body.stream_format !== "audio" && !sse)
    return fail(res, `Invalid value for 'stream_format' = ${String(body.stream_format)}.`, "stream_format")
  if (tts1 && sse) return fail(res, "stream_format 'sse' is not supported for tts-1 models.", "stream_format")
  const bytes = speechBytes(body.input, body.voice, format)
  if (!sse) {
    res.writeHead(200, { "content-type": contentTypes[format]!, "content-length": String(bytes.length) })
    res.end(bytes)
    return
  }
  res.writeHead(200, { "content-type": "text/event-stream" })
  const half = Math.floor(bytes.length / 2)
  for (const piece of [bytes.subarray(0, half), bytes.subarray(half)])
    res.write(`data: ${JSON.stringify({ type: "speech.audio.delta", audio: piece.toString("base64") })}\n\n`)
  const input = Math.ceil(body.input.length / 4)
  const output = Math.ceil(bytes.length / 1000)
  res.end(
    `data: ${JSON.stringify({ type: "speech.audio.done", usage: { input_tokens: input, output_tokens: output, total_tokens: input + output } })}\n\n`,
  )
}

// ---- transcriptions ---------------------------------------------------------------------------

export const transcriptionModels = ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]
const extensions = ["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"]
const transcriptionParams = new Set([
  "file",
  "model",
  "language",
  "prompt",
  "response_format",
  "temperature",
  "timestamp_granularities[]",
  "include[]",
  "chunking_strategy",
  "stream",
])

/** What this mock (and the mock Gemini) hears in an audio file: a line naming its hash. */
export const transcriptOf = (audio: Uint8Array): string =>
  `mock transcript ${createHash("sha256").update(audio).digest("hex").slice(0, 12)}`

/** Seconds of audio in a 16-bit WAV (0 for anything else). */
const secondsOf = (b: Buffer): number =>
  b.subarray(0, 4).toString("ascii") === "RIFF" && b.length > 44 ? (b.length - 44) / b.readUInt32LE(28) : 0

/** Fields (and the file's name and type) of the transcription requests received. */
export const transcriptionLog: Array<{ fields: Json; file?: { name: string; type: string; size: number } }> = []

export const transcriptions: MockUpstream.Responder = async (req, res) => {
  if (req.raw.length > 26_214_400) return fail(res, "Maximum content size limit (26214400) exceeded.", null, null, 413)
  const type = String(req.headers["content-type"] ?? "")
  if (!type.startsWith("multipart/form-data")) return fail(res, "Expected multipart/form-data.", null)
  const form = await new Response(new Uint8Array(req.raw), { headers: { "content-type": type } }).formData()
  const fields: Json = {}
  let file: File | undefined
  for (const [k, v] of form as unknown as Iterable<[string, FormDataEntryValue]>) {
    if (typeof v === "string") fields[k] = v
    else if (k === "file") file = v
    else return fail(res, `Unrecognized file argument: ${k}`, k)
  }
  transcriptionLog.push({
    fields,
    ...(file === undefined ? {} : { file: { name: file.name, type: file.type, size: file.size } }),
  })
  for (const k of Object.keys(fields))
    if (!transcriptionParams.has(k)) return fail(res, `Unrecognized request argument supplied: ${k}`, k)
  const model = String(fields.model ?? "")
  if (!transcriptionModels.includes(model))
    return fail(res, `Invalid value for 'model' = ${model}.`, "model", "invalid_value")
  if (file === undefined) return fail(res, "Missing required parameter: 'file'.", "file", "missing_required_parameter")
  const ext = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase()
  if (ext === undefined || !extensions.includes(ext))
    return fail(
      res,
      `Invalid file format. Supported formats: ${JSON.stringify(extensions).replaceAll('"', "'")}`,
      "file",
      "invalid_value",
    )
  const format = String(fields.response_format ?? "json")
  const allowed = model === "whisper-1" ? ["json", "text", "srt", "verbose_json", "vtt"] : ["json", "text"]
  if (!allowed.includes(format))
    return fail(
      res,
      `response_format '${format}' is not compatible with model '${model}'. Use 'json' or 'text'.`,
      "response_format",
      "unsupported_value",
    )
  const bytes = Buffer.from(await file.arrayBuffer())
  const text = transcriptOf(bytes)
  const seconds = secondsOf(bytes)
  if (format === "text" || format === "srt" || format === "vtt") {
    const body =
      format === "text"
        ? `${text}\n`
        : format === "srt"
          ? `1\n00:00:00,000 --> 00:00:0${Math.min(9, Math.ceil(seconds))},000\n${text}\n\n`
          : `WEBVTT\n\n00:00:00.000 --> 00:00:0${Math.min(9, Math.ceil(seconds))}.000\n${text}\n\n`
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
    res.end(body)
    return
  }
  const usage =
    model === "whisper-1"
      ? { type: "duration", seconds: Math.ceil(seconds) }
      : {
          type: "tokens",
          input_tokens: Math.ceil(seconds * 10) + 5,
          input_token_details: { audio_tokens: Math.ceil(seconds * 10), text_tokens: 5 },
          output_tokens: 6,
          total_tokens: Math.ceil(seconds * 10) + 11,
        }
  const body =
    format === "verbose_json"
      ? {
          task: "transcribe",
          language: String(fields.language ?? "english"),
          duration: seconds,
          text,
          segments: [
            {
              id: 0,
              seek: 0,
              start: 0,
              end: seconds,
              text,
              tokens: [50364, 50414],
              temperature: 0,
              avg_logprob: -0.2,
              compression_ratio: 1,
              no_speech_prob: 0.01,
            },
          ],
          usage,
        }
      : { text, usage }
  res.writeHead(200, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}
