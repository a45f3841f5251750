/**
 * Models that draw one image per call (Gemini image models, the mock) serve a request for `n`
 * images (OpenAI images' `n`) by asking `n` times, a few at a time, and merging the answers:
 * every image part in call order, the first answer's text, usage summed.
 */
import { Effect } from "effect"
import type { ChatRequest, ChatResponse, GatewayError, Part, Usage } from "@sluice/schema"

/** The most images one request may ask for (OpenAI's own ceiling for `n`). */
export const maxCount = 10

const sum = (a: Usage, b: Usage): Usage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  ...(a.reasoningTokens !== undefined || b.reasoningTokens !== undefined
    ? { reasoningTokens: (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0) }
    : {}),
})

/** Run `call` once, or `output.image.count` times when more images are wanted. */
export const fanOut = (
  request: ChatRequest,
  call: (request: ChatRequest) => Effect.Effect<ChatResponse, GatewayError>,
): Effect.Effect<ChatResponse, GatewayError> => {
  const count = Math.min(maxCount, Math.max(1, request.output?.image?.count ?? 1))
  if (count === 1) return call(request)
  return Effect.map(
    Effect.all(
      Array.from({ length: count }, () => call(request)),
      { concurrency: 4 },
    ),
    (answers) => {
      const first = answers[0]!
      const parts: Array<Part> = [...first.parts]
      let usage = first.usage
      for (const a of answers.slice(1)) {
        for (const p of a.parts) if (p.type === "image") parts.push(p)
        usage = sum(usage, a.usage)
      }
      return { ...first, parts, usage }
    },
  )
}
