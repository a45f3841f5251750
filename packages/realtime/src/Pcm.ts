/** PCM16 little-endian mono helpers: linear resampling between rates, and a test tone. */

/** Resample by linear interpolation; the same buffer when the rates match. */
export const resample = (pcm: Buffer, from: number, to: number): Buffer => {
  if (from === to || pcm.length < 2) return pcm
  const inSamples = pcm.length >> 1
  const outSamples = Math.max(1, Math.round((inSamples * to) / from))
  const out = Buffer.alloc(outSamples * 2)
  const step = from / to
  for (let i = 0; i < outSamples; i++) {
    const pos = i * step
    const j = Math.floor(pos)
    const frac = pos - j
    const a = pcm.readInt16LE(Math.min(j, inSamples - 1) * 2)
    const b = pcm.readInt16LE(Math.min(j + 1, inSamples - 1) * 2)
    out.writeInt16LE(Math.round(a + (b - a) * frac), i * 2)
  }
  return out
}

/** A sine tone: `ms` milliseconds at `hz`, quarter amplitude. */
export const tone = (ms: number, rate: number, hz = 440): Buffer => {
  const n = Math.round((ms * rate) / 1000)
  const out = Buffer.alloc(n * 2)
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(8191 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2)
  return out
}

/** The rate in a mime type like `audio/pcm;rate=16000`; Live's input default is 16 kHz. */
export const rateOf = (mimeType: string, fallback = 16_000): number | undefined => {
  if (!/^audio\/(pcm|l16)\b/i.test(mimeType)) return undefined
  const m = /rate=(\d{4,6})/i.exec(mimeType)
  if (m === null) return fallback
  const rate = Number(m[1])
  return rate >= 8_000 && rate <= 48_000 ? rate : undefined
}
