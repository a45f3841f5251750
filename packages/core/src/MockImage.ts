/**
 * The mock provider's drawings: a small PNG whose colours derive from the prompt, so the same
 * prompt gives the same picture and different prompts differ. Encoded by hand (stored deflate
 * blocks, CRC-32, Adler-32) so the mock needs no image library and no platform API.
 */

const crcTable = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const adler32 = (bytes: Uint8Array): number => {
  let a = 1
  let b = 0
  for (const x of bytes) {
    a = (a + x) % 65521
    b = (b + a) % 65521
  }
  return ((b << 16) | a) >>> 0
}

const u32 = (n: number): Array<number> => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]

const chunk = (type: string, data: Uint8Array): Array<number> => {
  const typed = new Uint8Array(4 + data.length)
  for (let i = 0; i < 4; i++) typed[i] = type.charCodeAt(i)
  typed.set(data, 4)
  return [...u32(data.length), ...typed, ...u32(crc32(typed))]
}

/** zlib stream of stored (uncompressed) blocks: valid for any inflater. */
const zlibStored = (raw: Uint8Array): Uint8Array => {
  const out: Array<number> = [0x78, 0x01]
  let at = 0
  do {
    const end = Math.min(raw.length, at + 65535)
    const n = end - at
    out.push(end >= raw.length ? 1 : 0, n & 0xff, n >>> 8, ~n & 0xff, (~n >>> 8) & 0xff)
    for (let i = at; i < end; i++) out.push(raw[i]!)
    at = end
  } while (at < raw.length)
  out.push(...u32(adler32(raw)))
  return Uint8Array.from(out)
}

const hash = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

/** A `size`×`size` RGB PNG: two colours from the prompt's hash, in a diagonal split. */
export const png = (prompt: string, size = 16): Uint8Array => {
  const h1 = hash(prompt)
  const h2 = hash(`${prompt}\u0000`)
  const a = [h1 & 0xff, (h1 >>> 8) & 0xff, (h1 >>> 16) & 0xff]
  const b = [h2 & 0xff, (h2 >>> 8) & 0xff, (h2 >>> 16) & 0xff]
  const raw = new Uint8Array(size * (1 + size * 3))
  let i = 0
  for (let y = 0; y < size; y++) {
    raw[i++] = 0 // filter: none
    for (let x = 0; x < size; x++) {
      const c = x + y < size ? a : b
      raw[i++] = c[0]!
      raw[i++] = c[1]!
      raw[i++] = c[2]!
    }
  }
  const header = Uint8Array.from([...u32(size), ...u32(size), 8, 2, 0, 0, 0])
  return Uint8Array.from([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...chunk("IHDR", header),
    ...chunk("IDAT", zlibStored(raw)),
    ...chunk("IEND", new Uint8Array(0)),
  ])
}

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Base64 without platform APIs (the mock runs on any runtime). */
export const base64 = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    out += b64chars[(n >>> 18) & 63]! + b64chars[(n >>> 12) & 63]!
    out += i + 1 < bytes.length ? b64chars[(n >>> 6) & 63]! : "="
    out += i + 2 < bytes.length ? b64chars[n & 63]! : "="
  }
  return out
}
