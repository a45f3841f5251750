/**
 * Signed tool-call ids: how a Gemini thoughtSignature survives a client format that has no
 * field for it. Gemini 3 signs the first functionCall of each step and refuses the call back
 * without that signature; OpenAI chat, Responses and Anthropic clients echo only the call's id,
 * name and arguments. So the id a client sees carries the signature, and the gateway takes it
 * out again when the id comes back — on any instance, with no store.
 *
 * Form: `sig1<mode><n>_<id><payload>` where `n` is the length of the original id in decimal and
 * `payload` is the signature in base64url without padding (mode `b`: the signature was standard
 * base64, as Google sends it, and is restored exactly) or the signature's UTF-8 bytes in
 * base64url (mode `u`: any other text). Every character is in `[A-Za-z0-9_-]` when the original
 * id is, which is what Anthropic's `tool_use.id` pattern allows; OpenAI sets no charset. The
 * length prefix makes the split unambiguous whatever the id or signature contains.
 */

const prefix = "sig1"
const shape = /^sig1([bu])(\d{1,4})_/
const base64 = /^[A-Za-z0-9+/]*={0,2}$/
const base64url = /^[A-Za-z0-9_-]*$/

const toBase64url = (bytes: Uint8Array): string => {
  let binary = ""
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")
}

/** The id a client sees for a call: the original id, with the signature when there is one. */
export const wrap = (id: string, signature: string | undefined): string => {
  if (signature === undefined || signature === "") return id
  const standard = signature.length % 4 === 0 && base64.test(signature)
  const payload = standard
    ? signature.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")
    : toBase64url(new TextEncoder().encode(signature))
  return `${prefix}${standard ? "b" : "u"}${id.length}_${id}${payload}`
}

export interface Unwrapped {
  readonly id: string
  readonly signature?: string
}

/** A client's id back into the original id and signature; any other id is returned as is. */
export const unwrap = (wire: string): Unwrapped => {
  const m = shape.exec(wire)
  if (m === null) return { id: wire }
  const start = m[0].length
  const n = Number(m[2])
  const rest = wire.slice(start)
  if (n > rest.length) return { id: wire }
  const payload = rest.slice(n)
  if (payload === "" || !base64url.test(payload)) return { id: wire }
  const id = rest.slice(0, n)
  const std = payload.replace(/-/g, "+").replace(/_/g, "/")
  const padded = std + "=".repeat((4 - (std.length % 4)) % 4)
  if (m[1] === "b") return { id, signature: padded }
  try {
    const binary = atob(padded)
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
    return { id, signature: new TextDecoder("utf-8", { fatal: true }).decode(bytes) }
  } catch {
    return { id: wire }
  }
}

/** True when the id carries a signature (so a client format may show it another way too). */
export const isSigned = (wire: string): boolean => unwrap(wire).signature !== undefined
