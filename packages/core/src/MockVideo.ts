/**
 * The mock provider's videos: a minimal ISO base media (MP4) file — `ftyp`, a `moov` whose
 * `mvhd` says one second, and a `free` box that carries the prompt's hash so different prompts
 * give different files. Structurally valid (players and `file` recognise it) but with no
 * tracks: the mock shows the long-running video flow, not moving pictures.
 */

const box = (type: string, ...payload: ReadonlyArray<Uint8Array>): Uint8Array => {
  const size = 8 + payload.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(size)
  const v = new DataView(out.buffer)
  v.setUint32(0, size)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  let at = 8
  for (const p of payload) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0))

const mvhd = (): Uint8Array => {
  const b = new DataView(new ArrayBuffer(100))
  // version 0, flags 0, creation and modification time 0
  b.setUint32(12, 1000) // timescale: ms
  b.setUint32(16, 1000) // duration: 1 s
  b.setUint32(20, 0x00010000) // rate 1.0
  b.setUint16(24, 0x0100) // volume 1.0
  // unity matrix
  b.setUint32(36, 0x00010000)
  b.setUint32(52, 0x00010000)
  b.setUint32(68, 0x40000000)
  b.setUint32(96, 1) // next track id
  return box("mvhd", new Uint8Array(b.buffer))
}

const fnv = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

/** A tiny MP4 for `seed`. */
export const mp4 = (seed: string): Uint8Array => {
  const tag = new Uint8Array(16)
  const v = new DataView(tag.buffer)
  for (let i = 0; i < 4; i++) v.setUint32(i * 4, fnv(`${i}|${seed}`))
  return Uint8Array.from([
    ...box("ftyp", ascii("isom"), new Uint8Array([0, 0, 2, 0]), ascii("isomiso2mp41")),
    ...box("moov", mvhd()),
    ...box("free", tag),
  ])
}
