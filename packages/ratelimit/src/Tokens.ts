/**
 * Input-token estimates taken before the call. The estimate only has to be close: the bucket is
 * corrected with the provider's actual usage when the answer arrives. `fast` (the default) is
 * one pass over the characters that counts words, number runs, punctuation runs and non-Latin
 * characters the way a BPE vocabulary mostly splits them — within ~15 % of cl100k_base on
 * prose, code and JSON, at a few ns a character, with nothing to load. `loaded` is the real BPE
 * tokenizer (js-tiktoken, cl100k_base: ~40 MB of tables, and encoding costs on every request);
 * long prompts are encoded up to a cap and extrapolated.
 */
import { Effect } from "effect"
import { Tiktoken } from "js-tiktoken/lite"
import type { GatewayRequest } from "@sluice/core"
import type { ChatRequest } from "@sluice/schema"

export interface Estimator {
  /** Estimated input tokens of a request (0 for requests that carry no content). */
  readonly estimate: (request: GatewayRequest) => number
  /** True for the BPE tokenizer, false for the ~4-characters-a-token stand-in. */
  readonly exact: () => boolean
}

/** Exactly encoded characters per request; beyond, the measured ratio is extrapolated. */
const encodeCap = 16_000
/** Per-message framing tokens (role markers), as OpenAI's own counting guide adds. */
const perMessage = 4
/** A flat figure for an image or other media part (a 1024×1024 image at high detail ~ 765). */
const perImage = 765

const textOfChat = (chat: ChatRequest): { text: string; messages: number; images: number } => {
  const pieces: Array<string> = []
  let images = 0
  for (const m of chat.messages) {
    for (const p of m.parts) {
      if (p.type === "text" || p.type === "reasoning") pieces.push(p.text)
      else if (p.type === "image") images++
      else if (p.type === "tool_call") pieces.push(p.name, p.arguments)
      else if (p.type === "tool_result") {
        pieces.push(p.name)
        for (const c of p.content) {
          if (c.type === "text") pieces.push(c.text)
          else images++
        }
        if (p.structured !== undefined) pieces.push(JSON.stringify(p.structured))
      }
    }
  }
  for (const t of chat.tools ?? [])
    pieces.push(t.name, t.description ?? "", t.parameters === undefined ? "" : JSON.stringify(t.parameters))
  return { text: pieces.join("\n"), messages: chat.messages.length, images }
}

const estimator = (count: (text: string) => number, exact: () => boolean): Estimator => {
  const tokensOf = (text: string): number => {
    if (text.length <= encodeCap) return count(text)
    const head = count(text.slice(0, encodeCap))
    return Math.ceil((head * text.length) / encodeCap)
  }
  return {
    exact,
    estimate: (request) => {
      switch (request._tag) {
        case "Chat": {
          const { text, messages, images } = textOfChat(request.chat)
          return tokensOf(text) + messages * perMessage + 3 + images * perImage
        }
        case "Embed":
          return request.embed.inputs.reduce((n, t) => n + tokensOf(t), 0)
        case "CountTokens":
        case "ListModels":
          return 0
      }
    },
  }
}

const isWordChar = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7)
const isDigit = (c: number) => c >= 48 && c <= 57
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13

/**
 * Tokens of `text` as a BPE vocabulary splits it, approximately: a word (with the space before
 * it) of up to 8 letters is one token and longer ones one per ~6 letters; digits go in threes;
 * a run of punctuation is one token per two characters; a line break (run) is one; any other
 * character (CJK, emoji halves, symbols) is one.
 */
export const approximate = (text: string): number => {
  let tokens = 0
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text.charCodeAt(i)
    let j = i + 1
    if (isWordChar(c)) {
      while (j < n && isWordChar(text.charCodeAt(j))) j++
      const length = j - i
      tokens += length <= 8 ? 1 : Math.ceil(length / 6)
    } else if (isDigit(c)) {
      while (j < n && isDigit(text.charCodeAt(j))) j++
      tokens += Math.ceil((j - i) / 3)
    } else if (c === 32) {
      // Joins the word after it; a run of spaces (indentation) counts.
      while (j < n && text.charCodeAt(j) === 32) j++
      if (j - i > 1) tokens += Math.ceil((j - i - 1) / 4)
    } else if (isSpace(c)) {
      while (j < n && isSpace(text.charCodeAt(j))) j++
      tokens += 1
    } else if (c < 128) {
      while (j < n) {
        const d = text.charCodeAt(j)
        if (d >= 128 || isWordChar(d) || isDigit(d) || isSpace(d)) break
        j++
      }
      tokens += Math.ceil((j - i) / 2)
    } else tokens += 1
    i = j
  }
  return tokens
}

/** One pass over the characters (`approximate`): the default. */
export const fast: Estimator = estimator(approximate, () => false)

/** ~4 characters a token: a stand-in where loading the tokenizer is not worth it (tests, tools). */
export const heuristic: Estimator = estimator(
  (text) => Math.ceil(text.length / 4),
  () => false,
)

/**
 * Load the tokenizer (a second or two of CPU: do it at start, never while serving). Loaded once
 * per process however many middlewares ask for it.
 */
export const loaded: Effect.Effect<Estimator> = Effect.runSync(
  Effect.cached(
    Effect.gen(function* () {
      // Imported on demand: the rank table is megabytes of JS that only the limiter needs.
      const ranks = yield* Effect.promise(() => import("js-tiktoken/ranks/cl100k_base"))
      const enc = new Tiktoken(ranks.default)
      // No special tokens: a prompt containing "<|endoftext|>" is just text.
      return estimator(
        (text) => enc.encode(text, [], []).length,
        () => true,
      )
    }),
  ),
)
