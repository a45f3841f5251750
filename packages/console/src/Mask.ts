/**
 * The effective config for display: secrets become `••••`. A value is secret when it is
 * Redacted, when its field names a credential (key, secret, token, password, authorization), or
 * when it is a URL carrying a password (kept, with the password masked).
 */
import { Redacted } from "effect"

export const mask = "••••"
const secretName = /key|secret|token|password|passwd|authorization|credential/i

const maskUrl = (s: string): string => {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(s)) return s
  try {
    const u = new URL(s)
    if (u.password !== "") u.password = mask
    return u.toString()
  } catch {
    return mask
  }
}

export const masked = (value: unknown, name = ""): unknown => {
  if (Redacted.isRedacted(value)) return mask
  if (typeof value === "string") return secretName.test(name) ? mask : maskUrl(value)
  if (Array.isArray(value)) return value.map((v) => masked(v, name))
  if (value !== null && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        secretName.test(k) && (typeof v === "string" || Redacted.isRedacted(v)) ? mask : masked(v, k),
      ]),
    )
  return value
}
