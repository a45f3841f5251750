/**
 * Learn what an answer really used: a complete answer says so at once; a stream says so in its
 * `finish` event (or, if it ends early, its last `usage` event). Accounting that must not miss
 * streamed calls (token buckets, spend) hangs off `observe`.
 */
import { Effect } from "effect"
import { Chunked, type GatewayResponse } from "@sluice/core"
import type { Usage } from "@sluice/schema"

export interface Actual {
  /** Undefined when the answer ended without reporting usage (a stream cut off early). */
  readonly usage: Usage | undefined
  /** The model that answered, when known. */
  readonly model: string | undefined
  /** True when the stream ended before its `finish` event. */
  readonly partial: boolean
}

/**
 * Call `settle` exactly once with the answer's usage. For a stream it runs before the `finish`
 * event is passed on, or when the stream ends early (error, client gone). `settle` must not fail.
 */
export const observe = (
  response: GatewayResponse,
  settle: (actual: Actual) => Effect.Effect<void>,
): Effect.Effect<GatewayResponse> => {
  switch (response._tag) {
    case "Chat":
      return Effect.as(settle({ usage: response.chat.usage, model: response.chat.model, partial: false }), response)
    case "Embed":
      return Effect.as(
        settle({
          usage: { inputTokens: response.embed.usage.inputTokens, outputTokens: 0 },
          model: response.embed.model,
          partial: false,
        }),
        response,
      )
    case "ChatStream": {
      // One observer (a pulled stream stays pulled): plain JS per chunk, an effect only for the
      // chunk with `finish`, and a partial settlement when the stream stops before it.
      const events = Chunked.observe(response.events, () => {
        let last: Usage | undefined
        let model: string | undefined
        let settled = false
        const once = (actual: Actual) =>
          Effect.suspend(() => {
            if (settled) return Effect.void
            settled = true
            return settle(actual)
          })
        return {
          chunk: (chunk) => {
            let finished: Actual | undefined
            for (const e of chunk) {
              switch (e._tag) {
                case "start":
                  model = e.model
                  break
                case "usage":
                  last = e.usage
                  break
                case "finish":
                  finished ??= { usage: e.usage, model, partial: false }
                  break
              }
            }
            return finished === undefined ? undefined : once(finished)
          },
          done: () => once({ usage: last, model, partial: true }),
        }
      })
      return Effect.succeed({ ...response, events })
    }
    case "CountTokens":
    case "ListModels":
      return Effect.succeed(response)
  }
}

export const total = (u: Usage): number => u.inputTokens + u.outputTokens
