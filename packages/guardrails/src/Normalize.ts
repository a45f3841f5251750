/**
 * Text as detectors see it: NFKC (fullwidth `ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ`, ligatures, odd
 * spaces and digits become their plain forms), invisible characters removed (zero-width space,
 * joiners, word joiner, BOM, soft hyphen — all used to split a word so no pattern sees it), and
 * Cyrillic/Greek letters that look like Latin ones mapped to those letters.
 *
 * Detection runs on the normalised text; each of its characters remembers which characters of
 * the original it came from, so a match is masked in the original and redaction keeps the text
 * the client wrote everywhere else.
 */
import type { Match } from "./Detectors.ts"

/** Removed before matching: they render as nothing. */
const invisible = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/

/** Look-alikes of Latin letters (Cyrillic, Greek) that NFKC leaves alone. */
const confusables: Readonly<Record<string, string>> = {
  // Cyrillic lower case
  а: "a",
  в: "b",
  е: "e",
  ё: "e",
  і: "i",
  ї: "i",
  ј: "j",
  к: "k",
  м: "m",
  н: "h",
  о: "o",
  р: "p",
  с: "c",
  т: "t",
  у: "y",
  х: "x",
  ѕ: "s",
  ԁ: "d",
  ԛ: "q",
  ԝ: "w",
  һ: "h",
  ӏ: "l",
  ь: "b",
  // Cyrillic upper case
  А: "A",
  В: "B",
  Е: "E",
  Ё: "E",
  І: "I",
  Ї: "I",
  Ј: "J",
  К: "K",
  М: "M",
  Н: "H",
  О: "O",
  Р: "P",
  С: "C",
  Т: "T",
  У: "Y",
  Х: "X",
  Ѕ: "S",
  Ԁ: "D",
  Ԛ: "Q",
  Ԝ: "W",
  Һ: "H",
  Ӏ: "I",
  // Greek lower case
  α: "a",
  β: "b",
  γ: "y",
  ε: "e",
  ι: "i",
  κ: "k",
  ν: "v",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  χ: "x",
  ω: "w",
  // Greek upper case
  Α: "A",
  Β: "B",
  Ε: "E",
  Ζ: "Z",
  Η: "H",
  Ι: "I",
  Κ: "K",
  Μ: "M",
  Ν: "N",
  Ο: "O",
  Ρ: "P",
  Τ: "T",
  Υ: "Y",
  Χ: "X",
}

export interface Normalized {
  readonly text: string
  /** For each character of `text`: where its source starts and ends in the original (undefined: identity). */
  readonly from: ReadonlyArray<number> | undefined
  readonly to: ReadonlyArray<number> | undefined
}

/** Nothing to change: printable ASCII, tabs and newlines. */
const plain = /^[\t\n\r\x20-\x7E]*$/
const lookAlike = new RegExp(`[${Object.keys(confusables).join("")}]`)

/** The normalised form of `s` and its map back to `s`. */
export const normalize = (s: string): Normalized => {
  if (plain.test(s) || (!invisible.test(s) && !lookAlike.test(s) && s.normalize("NFKC") === s))
    return { text: s, from: undefined, to: undefined }
  let text = ""
  const from: Array<number> = []
  const to: Array<number> = []
  let i = 0
  for (const ch of s) {
    const end = i + ch.length
    if (!invisible.test(ch)) {
      let n = ch.normalize("NFKC")
      let mapped = ""
      for (const c of n) mapped += confusables[c] ?? c
      n = mapped
      for (let k = 0; k < n.length; k++) {
        from.push(i)
        to.push(end)
      }
      text += n
    }
    i = end
  }
  return { text, from, to }
}

/** A match in the normalised text, as the span of the original it came from. */
export const toOriginal = (n: Normalized, m: Match): Match => {
  if (n.from === undefined || n.to === undefined) return m
  const start = n.from[m.start] ?? n.to[n.to.length - 1] ?? 0
  const end = m.end > 0 ? (n.to[m.end - 1] ?? start) : start
  return { start, end, kind: m.kind }
}

/** Run a detector on the normalised form of `s`; matches are given in `s`'s coordinates. */
export const detect = (detect: (text: string) => Array<Match>, n: Normalized): Array<Match> => {
  const found = detect(n.text)
  return n.from === undefined ? found : found.map((m) => toOriginal(n, m))
}

/** For configured words and phrases: the same normalisation, as a plain string. */
export const text = (s: string): string => normalize(s).text
