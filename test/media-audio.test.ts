/**
 * Speech and transcription with the openai SDK through a real gateway: `/v1/audio/speech` to an
 * OpenAI speech upstream as is and to Gemini TTS by translation (wav and pcm whole, the
 * `stream_format: "sse"` events), `/v1/audio/transcriptions` to an OpenAI transcription upstream
 * as is and to Gemini audio understanding by translation; keys, allow-lists, rate limits and
 * budgets on both; bad input (an oversized file, an unsupported file or format) answered in
 * OpenAI's error format. Every sound and transcript is checked against what the mock made for
 * that input.
 */
import { GoogleGenAI } from "@google/genai"
import OpenAI, { toFile } from "openai"
import {
  GeminiAudioUpstream as GeminiAudio,
  GeminiUpstream,
  OpenAIAudioUpstream,
  OpenAIUpstream,
} from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const keys = {
  good: "sk-audio-good-0123456789abcdef",
  narrow: "sk-audio-narrow-0123456789abcdef",
  rpm1: "sk-audio-rpm1-0123456789abcdef",
  broke: "sk-audio-broke-0123456789abcdef",
}

let gw: RunningGateway
let gemini: GeminiUpstream.GeminiMock
let openai: OpenAIUpstream.OpenAIUpstream

beforeAll(async () => {
  gemini = await GeminiUpstream.start({ apiKey: "g-up" })
  openai = await OpenAIUpstream.start({ apiKey: "o-up", models: ["tts-1", "gpt-4o-mini-tts", "whisper-1"] })
  gw = await startGateway({
    providers: {
      gem: { type: "gemini", baseUrl: gemini.url, apiKey: "g-up" },
      oai: { type: "openai", baseUrl: openai.baseUrl, apiKey: "o-up" },
      fake: { type: "mock" },
    },
    models: {
      speaker: { provider: "gem", model: "gemini-2.5-flash-preview-tts" },
      listener: { provider: "gem", model: "gemini-2.5-flash" },
      "tts-1": { provider: "oai", model: "tts-1" },
      "gpt-4o-mini-tts": { provider: "oai", model: "gpt-4o-mini-tts" },
      "whisper-1": { provider: "oai", model: "whisper-1" },
      mock: { provider: "fake", model: "mock" },
    },
    keys: [
      { name: "good", key: keys.good },
      { name: "narrow", key: keys.narrow, models: ["tts-1"] },
      { name: "rpm1", key: keys.rpm1, rateLimit: { rpm: 1 } },
      { name: "broke", key: keys.broke, budget: { usd: 0 } },
    ],
    prices: { speaker: { input: 1, output: 2 }, listener: { input: 1, output: 2 } },
  })
})
afterAll(async () => {
  await gw?.close()
  await gemini?.close()
  await openai?.close()
})

const client = (apiKey = keys.good) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 })
const lastGeminiBody = () => gemini.generateBodies().at(-1) as Record<string, any>
const bytesOf = async (r: Response) => Buffer.from(await r.arrayBuffer())

/** A 16-bit mono WAV written here by hand (not with the gateway's code). */
const wav = (pcm: Buffer, rate = 24_000) => {
  const h = Buffer.alloc(44)
  h.write("RIFF", 0, "ascii")
  h.writeUInt32LE(36 + pcm.length, 4)
  h.write("WAVEfmt ", 8, "ascii")
  h.writeUInt32LE(16, 16)
  h.writeUInt16LE(1, 20)
  h.writeUInt16LE(1, 22)
  h.writeUInt32LE(rate, 24)
  h.writeUInt32LE(rate * 2, 28)
  h.writeUInt16LE(2, 32)
  h.writeUInt16LE(16, 34)
  h.write("data", 36, "ascii")
  h.writeUInt32LE(pcm.length, 40)
  return Buffer.concat([h, pcm])
}

/** Half a second of 16 kHz speech-like noise: what the tests ask to be transcribed. */
const recording = wav(Buffer.from(Array.from({ length: 16_000 }, (_, i) => (i * 7919) % 251)), 16_000)

/** The `data:` payloads of an SSE body. */
const events = (text: string) =>
  text
    .split("\n\n")
    .map((f) => f.split("\n").find((l) => l.startsWith("data: ")))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice(6)) as Record<string, any>)

describe("speech: /v1/audio/speech", () => {
  it("Gemini TTS by translation: wav wraps its 24 kHz PCM, pcm passes it raw, the voice is mapped", async () => {
    const r = await client().audio.speech.create({
      model: "speaker",
      voice: "coral",
      input: "Have a wonderful day",
      instructions: "Say cheerfully",
      response_format: "wav",
    })
    expect(r.headers.get("content-type")).toBe("audio/wav")
    const pcm = GeminiAudio.speechPcm("Say cheerfully: Have a wonderful day", "Aoede")
    expect(await bytesOf(r)).toEqual(wav(pcm))
    const body = lastGeminiBody()
    expect(body.contents).toEqual([{ role: "user", parts: [{ text: "Say cheerfully: Have a wonderful day" }] }])
    expect(body.generationConfig).toEqual({
      responseModalities: ["AUDIO"],
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: "Aoede" } } },
    })

    // A Gemini voice name passes through; pcm is the bytes Gemini sent.
    const raw = await client().audio.speech.create({
      model: "speaker",
      voice: "Puck",
      input: "hi",
      response_format: "pcm",
    })
    expect(await bytesOf(raw)).toEqual(GeminiAudio.speechPcm("hi", "Puck"))
  })

  it("Gemini TTS streamed as speech.audio.delta events, then speech.audio.done with usage", async () => {
    const r = await client().audio.speech.create({
      model: "speaker",
      voice: "Kore",
      input: "streaming words",
      response_format: "pcm",
      stream_format: "sse",
    })
    expect(r.headers.get("content-type")).toContain("text/event-stream")
    const list = events(await r.text())
    const deltas = list.filter((e) => e.type === "speech.audio.delta")
    expect(deltas.length).toBeGreaterThan(0)
    expect(Buffer.concat(deltas.map((d) => Buffer.from(d.audio, "base64")))).toEqual(
      GeminiAudio.speechPcm("streaming words", "Kore"),
    )
    const done = list.at(-1)!
    expect(done.type).toBe("speech.audio.done")
    expect(done.usage.output_tokens).toBe(
      GeminiAudio.outputTokens([
        {
          inlineData: {
            mimeType: GeminiAudio.pcmType,
            data: GeminiAudio.speechPcm("streaming words", "Kore").toString("base64"),
          },
        },
      ]),
    )
    // Whether TTS streams is undocumented: the gateway asks generateContent and sends one delta.
    expect(gemini.requests.at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash-preview-tts:generateContent")
    expect(deltas).toHaveLength(1)
  })

  it("a format Gemini cannot give is a 400 naming response_format, before any upstream call", async () => {
    const before = gemini.generateBodies().length
    const e = await client()
      .audio.speech.create({ model: "speaker", voice: "alloy", input: "hello" })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("response_format")
    expect((e as Error).message).toContain("'mp3' is not available from Gemini TTS")
    expect(gemini.generateBodies().length).toBe(before)
  })

  it("an OpenAI speech upstream as is: the bytes it made, the fields the client sent", async () => {
    const r = await client().audio.speech.create({ model: "tts-1", voice: "nova", input: "plain mp3", speed: 1.25 })
    expect(r.headers.get("content-type")).toBe("audio/mpeg")
    expect(await bytesOf(r)).toEqual(OpenAIAudioUpstream.speechBytes("plain mp3", "nova", "mp3"))
    expect(OpenAIAudioUpstream.speechLog.at(-1)).toEqual({
      model: "tts-1",
      voice: "nova",
      input: "plain mp3",
      speed: 1.25,
    })

    const s = await client().audio.speech.create({
      model: "gpt-4o-mini-tts",
      voice: "ash",
      input: "in pieces",
      instructions: "Whisper",
      response_format: "pcm",
      stream_format: "sse",
    })
    const list = events(await s.text())
    const audio = Buffer.concat(
      list.filter((e) => e.type === "speech.audio.delta").map((d) => Buffer.from(d.audio, "base64")),
    )
    expect(audio).toEqual(OpenAIAudioUpstream.speechBytes("in pieces", "ash", "pcm"))
    expect(list.at(-1)).toMatchObject({ type: "speech.audio.done", usage: { input_tokens: 3 } })
    expect(OpenAIAudioUpstream.speechLog.at(-1)).toEqual({
      model: "gpt-4o-mini-tts",
      voice: "ash",
      input: "in pieces",
      instructions: "Whisper",
      response_format: "pcm",
      stream_format: "sse",
    })
  })

  it("the upstream's own refusal reaches the client in OpenAI's shape", async () => {
    const e = await client()
      .audio.speech.create({ model: "tts-1", voice: "nova", input: "x", instructions: "loud" })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    expect((e as Error).message).toContain("Instructions are not supported for tts-1")
  })

  it("bad input: an unknown field, an empty input, a bad speed", async () => {
    for (const [body, param] of [
      [{ model: "tts-1", voice: "nova", input: "x", loudness: 3 }, "loudness"],
      [{ model: "tts-1", voice: "nova", input: "" }, "input"],
      [{ model: "tts-1", voice: "nova", input: "x", speed: 9 }, "speed"],
      [{ model: "tts-1", voice: "nova", input: "x", response_format: "ogg" }, "response_format"],
    ] as const) {
      const e = await client()
        .audio.speech.create(body as never)
        .catch((x: unknown) => x)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe(param)
    }
  })
})

describe("a Gemini client asking an OpenAI speech model for AUDIO", () => {
  it("gets the speech as inlineData under Google's PCM label", async () => {
    const ai = new GoogleGenAI({ apiKey: keys.good, httpOptions: { baseUrl: gw.url } })
    const r = await ai.models.generateContent({
      model: "gpt-4o-mini-tts",
      contents: "read this aloud",
      config: { responseModalities: ["AUDIO"] },
    })
    expect(r.candidates?.[0]?.content?.parts?.[0]?.inlineData).toEqual({
      mimeType: "audio/L16;codec=pcm;rate=24000",
      data: OpenAIAudioUpstream.speechBytes("read this aloud", "alloy", "pcm").toString("base64"),
    })
    expect(OpenAIAudioUpstream.speechLog.at(-1)).toEqual({
      model: "gpt-4o-mini-tts",
      input: "read this aloud",
      voice: "alloy",
      response_format: "pcm",
    })
  })
})

describe("transcription: /v1/audio/transcriptions", () => {
  it("an OpenAI transcription upstream as is (json, verbose_json, text)", async () => {
    const t = await client().audio.transcriptions.create({
      model: "whisper-1",
      file: await toFile(recording, "hello.wav"),
      language: "en",
    })
    expect(t.text).toBe(OpenAIAudioUpstream.transcriptOf(recording))
    expect(OpenAIAudioUpstream.transcriptionLog.at(-1)).toEqual({
      fields: { model: "whisper-1", language: "en" },
      file: { name: "hello.wav", type: "audio/wav", size: recording.length },
    })

    const v = await client().audio.transcriptions.create({
      model: "whisper-1",
      file: await toFile(recording, "hello.wav"),
      response_format: "verbose_json",
    })
    expect(v.duration).toBe(0.5)
    expect(v.segments?.[0]).toMatchObject({ start: 0, end: 0.5, text: OpenAIAudioUpstream.transcriptOf(recording) })

    const text = await client().audio.transcriptions.create({
      model: "whisper-1",
      file: await toFile(recording, "hello.wav"),
      response_format: "text",
    })
    expect(text).toBe(`${OpenAIAudioUpstream.transcriptOf(recording)}\n`)
  })

  it("Gemini audio understanding by translation: the file as inlineData with an instruction", async () => {
    const t = await client().audio.transcriptions.create({
      model: "listener",
      file: await toFile(recording, "memo.wav"),
      language: "de",
      prompt: "Sluice, Gemini",
    })
    expect(t.text).toBe(OpenAIAudioUpstream.transcriptOf(recording))
    expect((t as any).usage).toMatchObject({ type: "tokens" })
    const body = lastGeminiBody()
    const parts = body.contents[0].parts as Array<Record<string, any>>
    expect(parts.find((p) => p.inlineData)?.inlineData).toEqual({
      mimeType: "audio/wav",
      data: recording.toString("base64"),
    })
    const instruction = parts.find((p) => p.text)!.text as string
    expect(instruction).toContain("Transcribe this audio verbatim")
    expect(instruction).toContain('"de"')
    expect(instruction).toContain("Sluice, Gemini")

    const v = await client().audio.transcriptions.create({
      model: "listener",
      file: await toFile(recording, "memo.wav"),
      response_format: "verbose_json",
    })
    expect(v).toMatchObject({ task: "transcribe", duration: 0.5, text: OpenAIAudioUpstream.transcriptOf(recording) })

    // Timestamps need an OpenAI transcription model.
    const e = await client()
      .audio.transcriptions.create({
        model: "listener",
        file: await toFile(recording, "memo.wav"),
        response_format: "srt",
      })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("response_format")
  })

  it("bad input: an oversized file is a 413, an unsupported file a 400, both in OpenAI's format", async () => {
    const before = gemini.generateBodies().length
    const big = Buffer.alloc(26 * 1024 * 1024, 1)
    const e = await client()
      .audio.transcriptions.create({ model: "listener", file: await toFile(big, "long.wav") })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.APIError)
    expect((e as InstanceType<typeof OpenAI.APIError>).status).toBe(413)
    expect((e as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      type: "invalid_request_error",
      code: "request_too_large",
    })

    const f = await client()
      .audio.transcriptions.create({ model: "listener", file: await toFile(Buffer.from("just text"), "notes.txt") })
      .catch((x: unknown) => x)
    expect(f).toBeInstanceOf(OpenAI.BadRequestError)
    expect((f as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("file")
    expect((f as Error).message).toContain("Invalid file format")

    const g = await client()
      .audio.transcriptions.create({
        model: "listener",
        file: await toFile(recording, "memo.wav"),
        response_format: "poem" as never,
      })
      .catch((x: unknown) => x)
    expect((g as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("response_format")
    expect(gemini.generateBodies().length).toBe(before)
  })
})

describe("the built-in mock model speaks and listens", () => {
  it("a tone as wav, and a transcript naming what it heard", async () => {
    const r = await client().audio.speech.create({ model: "mock", voice: "alloy", input: "hi", response_format: "wav" })
    const bytes = await bytesOf(r)
    expect(bytes.subarray(0, 4).toString("ascii")).toBe("RIFF")
    expect(bytes.readUInt32LE(24)).toBe(24_000)
    expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44)
    expect(bytes.length - 44).toBe((24_000 / 4) * 2) // 250 ms of 16-bit samples
    const t = await client().audio.transcriptions.create({ model: "mock", file: await toFile(recording, "a.wav") })
    expect(t.text).toBe(`transcript: ${recording.length} bytes of audio/wav`)
  })
})

describe("keys, allow-lists, limits and budgets on audio", () => {
  it("an unknown key is a 401, a model outside the key's list a 403", async () => {
    const e = await client("sk-audio-nobody-0123456789")
      .audio.speech.create({ model: "tts-1", voice: "nova", input: "x" })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError)
    const ok = await client(keys.narrow).audio.speech.create({ model: "tts-1", voice: "nova", input: "x" })
    expect(ok.status).toBe(200)
    const f = await client(keys.narrow)
      .audio.transcriptions.create({ model: "listener", file: await toFile(recording, "a.wav") })
      .catch((x: unknown) => x)
    expect(f).toBeInstanceOf(OpenAI.PermissionDeniedError)
  })

  it("a transcription counts against the key's request rate; an exhausted budget refuses speech", async () => {
    await client(keys.rpm1).audio.transcriptions.create({ model: "listener", file: await toFile(recording, "a.wav") })
    const e = await client(keys.rpm1)
      .audio.speech.create({ model: "speaker", voice: "Kore", input: "x", response_format: "wav" })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.RateLimitError)
    const b = await client(keys.broke)
      .audio.speech.create({ model: "speaker", voice: "Kore", input: "x", response_format: "wav" })
      .catch((x: unknown) => x)
    expect(b).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect((b as Error).message).toContain("budget exhausted")
  })
})
