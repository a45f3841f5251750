/**
 * Built-in detectors: each finds spans of sensitive text in a string. Numbers that merely look
 * like cards or IBANs are checked (Luhn, ISO 13616 mod-97) so ordinary digits are not masked.
 */

export type PiiKind = "email" | "phone" | "credit_card" | "iban" | "secret"
export const piiKinds: ReadonlyArray<PiiKind> = ["email", "phone", "credit_card", "iban", "secret"]

export interface Match {
  readonly start: number
  readonly end: number
  /** What was found (email, credit_card, keyword, pattern, …): named in errors, never the text. */
  readonly kind: string
}

export type Detector = (text: string) => Array<Match>

/** Every match of a global regex, optionally narrowed by a validator that returns the valid length. */
const scan = (re: RegExp, kind: string, validLength?: (raw: string) => number): Detector => {
  const source = new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`)
  return (text) => {
    const out: Array<Match> = []
    source.lastIndex = 0
    for (let m = source.exec(text); m !== null; m = source.exec(text)) {
      if (m[0].length === 0) {
        source.lastIndex++
        continue
      }
      const len = validLength === undefined ? m[0].length : validLength(m[0])
      if (len > 0) out.push({ start: m.index, end: m.index + len, kind })
    }
    return out
  }
}

const digitsOf = (s: string) => s.replace(/[^0-9]/g, "")

export const luhn = (digits: string): boolean => {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

/** ISO 13616: move the first four characters to the end, letters → 10..35, remainder mod 97 is 1. */
export const ibanValid = (raw: string): boolean => {
  const s = raw.replace(/ /g, "").toUpperCase()
  if (s.length < 15 || s.length > 34 || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false
  const rearranged = s.slice(4) + s.slice(0, 4)
  let rem = 0
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0)
    const value = code >= 65 ? String(code - 55) : ch
    for (const d of value) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97
  }
  return rem === 1
}

/**
 * The longest prefix of `raw` (ending on a kept character) that passes `valid`, so a number
 * that runs into trailing digits or words is still found. 0 when none does.
 */
const longestValidPrefix = (raw: string, valid: (prefix: string) => boolean): number => {
  for (let end = raw.length; end > 0; end--) {
    const ch = raw[end - 1]!
    if (ch === " " || ch === "-") continue
    if (valid(raw.slice(0, end))) return end
  }
  return 0
}

const cardValid = (prefix: string) => {
  const d = digitsOf(prefix)
  // Issuer ranges in use start with 2–6 (Mastercard 2/5, Amex/Diners 3, Visa 4, Discover 6).
  return d.length >= 13 && d.length <= 19 && d[0]! >= "2" && d[0]! <= "6" && luhn(d)
}

const phoneValid = (raw: string) => {
  const n = digitsOf(raw).length
  return n >= 9 && n <= 15
}

/**
 * Streamed text shorter than this is never released while a match could still be forming: the
 * longest opening marker (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, a JWT header) fits in it.
 */
export const holdFloor: Readonly<Partial<Record<PiiKind, number>>> = { secret: 64 }

export const detectors: Readonly<Record<PiiKind, Detector>> = {
  email: scan(/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/, "email"),
  credit_card: scan(/(?<![\d-])\d(?:[ -]?\d){12,18}(?!\d)/, "credit_card", (raw) => longestValidPrefix(raw, cardValid)),
  iban: scan(/(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/, "iban", (raw) => longestValidPrefix(raw, ibanValid)),
  // A separator, a leading + or parentheses is required: bare digit runs are ids and timestamps.
  phone: scan(
    /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{2,4}(?:[ .-]?\d{2,4}){1,3})(?![\w])/,
    "phone",
    (raw) => (phoneValid(raw) ? raw.length : 0),
  ),
  secret: ((): Detector => {
    const all = [
      // A key block runs to its END line or, when that never comes (a truncated or still
      // streaming key), to the end of the text: the BEGIN line alone is enough to act on.
      /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?(?:-----END \1-----|$)/,
      /\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}/,
      /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/,
      /\bgh[pousr]_[A-Za-z0-9]{30,}/,
      /\bgithub_pat_[A-Za-z0-9_]{30,}/,
      /\bxox[abprs]-[A-Za-z0-9-]{10,}/,
      /\bAIza[0-9A-Za-z_-]{35}/,
      /\b(?:rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/,
      // Two base64url JSON segments are a JWT already; the signature (if any) is taken along.
      /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?/,
      /\b[Bb]earer\s+[A-Za-z0-9._~+/-]{20,}=*/,
    ].map((re) => scan(re, "secret"))
    return (text) => all.flatMap((d) => d(text))
  })(),
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Whole-word, case-insensitive keyword matching (a keyword inside a longer word is not a hit). */
export const keywords = (words: ReadonlyArray<string>): Detector =>
  scan(new RegExp(`(?<![\\p{L}\\p{N}_])(?:${words.map(escapeRegex).join("|")})(?![\\p{L}\\p{N}_])`, "giu"), "keyword")

export const pattern = (re: RegExp): Detector => scan(re, "pattern")

/** Replace each match with a `[REDACTED:<kind>]` marker; overlapping matches merge. */
export const mask = (text: string, matches: ReadonlyArray<Match>): string => {
  if (matches.length === 0) return text
  const sorted = [...matches].sort((a, b) => a.start - b.start || b.end - a.end)
  let out = ""
  let at = 0
  for (const m of sorted) {
    if (m.end <= at) continue
    const start = Math.max(m.start, at)
    out += text.slice(at, start)
    if (start === m.start) out += `[REDACTED:${m.kind}]`
    at = m.end
  }
  return out + text.slice(at)
}
