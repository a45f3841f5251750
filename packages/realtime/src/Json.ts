/** Small helpers for reading untrusted JSON frames without `any`. */

export type Obj = Readonly<Record<string, unknown>>

export const isObj = (u: unknown): u is Obj => typeof u === "object" && u !== null && !Array.isArray(u)

export const parse = (text: string): Obj | undefined => {
  try {
    const v: unknown = JSON.parse(text)
    return isObj(v) ? v : undefined
  } catch {
    return undefined
  }
}

export const obj = (u: unknown): Obj | undefined => (isObj(u) ? u : undefined)
export const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)
export const num = (u: unknown): number | undefined => (typeof u === "number" && Number.isFinite(u) ? u : undefined)
export const arr = (u: unknown): ReadonlyArray<unknown> => (Array.isArray(u) ? u : [])

/** A caller's identifier, safe to echo in an error: printable ASCII, capped. */
export const echo = (s: string, max = 64): string => {
  const clean = s.replace(/[^\x20-\x7e]/g, "?")
  return clean.length > max ? `${clean.slice(0, max)}…` : clean
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Standard base64 (what both protocols use for audio), or undefined. */
export const b64 = (u: unknown): Buffer | undefined => {
  if (typeof u !== "string" || u.length % 4 === 1 || !base64.test(u)) return undefined
  return Buffer.from(u, "base64")
}
