/**
 * Input-token estimates taken before the call, with a real BPE tokenizer (js-tiktoken,
 * cl100k_base: within a few percent of every major vendor's counts for ordinary text and far
 * quicker to load than o200k_base). The estimate only has to be close: the bucket is corrected
 * with the provider's actual usage when the answer arrives. Long prompts are encoded up to a
 * cap and extrapolated, so estimating never costs more than a few milliseconds.
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
