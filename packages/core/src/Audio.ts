/**
 * Raw PCM and WAV, the two audio forms a gateway can convert between without a codec: Gemini
 * speaks 24 kHz 16-bit mono PCM (`audio/L16;codec=pcm;rate=24000`), which is OpenAI's `pcm`
 * format byte for byte, and becomes OpenAI's `wav` with a 44-byte RIFF header.
 */

export interface Pcm {
  readonly rate: number
  readonly channels: number
  readonly bits: number
  readonly data: Uint8Array
}

/** The rate OpenAI's `pcm` speech format and Gemini's TTS output use. */
export const speechRate = 24_000

/** True for a raw PCM media type: `audio/L16…`, `audio/pcm…`. */
export const isPcm = (mediaType: string): boolean => /^audio\/(l16|pcm)\b/i.test(mediaType.trim())

/** True for a WAV media type. */
export const isWav = (mediaType: string): boolean => /^audio\/(wav|x-wav|wave|vnd\.wave)\b/i.test(mediaType.trim())

/** The `rate=` of a PCM media type (24 kHz when it names none, as Gemini and OpenAI use). */
export const rateOf = (mediaType: string): number => {
  const m = /;\s*rate=(\d{3,6})\b/i.exec(mediaType)
  return m === null ? speechRate : Number(m[1])
}

/**
 * A RIFF/WAVE header for `dataBytes` bytes of little-endian PCM. A stream whose length is not
 * known yet announces the largest size (the convention streaming players accept).
 */
export const wavHeader = (dataBytes: number | undefined, rate: number, channels = 1, bits = 16): Uint8Array => {
  const h = new DataView(new ArrayBuffer(44))
  const size = dataBytes === undefined ? 0xffffffff - 36 : dataBytes
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) h.setUint8(at + i, s.charCodeAt(i))
  }
  ascii(0, "RIFF")
  h.setUint32(4, Math.min(0xffffffff, 36 + size), true)
  ascii(8, "WAVE")
  ascii(12, "fmt ")
  h.setUint32(16, 16, true)
  h.setUint16(20, 1, true) // PCM
  h.setUint16(22, channels, true)
  h.setUint32(24, rate, true)
  h.setUint32(28, (rate * channels * bits) / 8, true)
  h.setUint16(32, (channels * bits) / 8, true)
  h.setUint16(34, bits, true)
  ascii(36, "data")
  h.setUint32(40, size, true)
  return new Uint8Array(h.buffer)
}

/** PCM wrapped as a WAV file. */
export const wav = (pcm: Uint8Array, rate = speechRate, channels = 1, bits = 16): Uint8Array => {
  const out = new Uint8Array(44 + pcm.length)
  out.set(wavHeader(pcm.length, rate, channels, bits), 0)
  out.set(pcm, 44)
  return out
}

/** A WAV file's format and samples (its `fmt ` and `data` chunks), or undefined when it is not one. */
export const parseWav = (bytes: Uint8Array): Pcm | undefined => {
  if (bytes.length < 12) return undefined
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const tag = (at: number) => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!)
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") return undefined
  let at = 12
  let fmt: { rate: number; channels: number; bits: number } | undefined
  while (at + 8 <= bytes.length) {
    const id = tag(at)
    const size = v.getUint32(at + 4, true)
    const body = at + 8
    if (id === "fmt " && size >= 16 && body + 16 <= bytes.length) {
      fmt = {
        channels: v.getUint16(body + 2, true),
        rate: v.getUint32(body + 4, true),
        bits: v.getUint16(body + 14, true),
      }
    } else if (id === "data") {
      if (fmt === undefined || fmt.rate === 0 || fmt.channels === 0 || fmt.bits === 0) return undefined
      return { ...fmt, data: bytes.subarray(body, Math.min(bytes.length, body + size)) }
    }
    at = body + size + (size % 2)
  }
  return undefined
}

/** Seconds of audio in a WAV file, or undefined when the bytes are not one. */
export const wavSeconds = (bytes: Uint8Array): number | undefined => {
  const p = parseWav(bytes)
  return p === undefined ? undefined : p.data.length / ((p.rate * p.channels * p.bits) / 8)
}

/**
 * A short tone as 16-bit mono PCM (the mock model's voice): its pitch derives from `seed`, so
 * the same text gives the same sound and different texts differ.
 */
export const tone = (seed: string, ms: number, rate = speechRate): Uint8Array => {
  let h = 2166136261
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619)
  const hz = 220 + ((h >>> 0) % 660)
  const samples = Math.round((rate * ms) / 1000)
  const out = new DataView(new ArrayBuffer(samples * 2))
  for (let i = 0; i < samples; i++)
    out.setInt16(i * 2, Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 8000), true)
  return new Uint8Array(out.buffer)
}
