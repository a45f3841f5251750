/**
 * Example custom guardrail: ask an HTTP moderation endpoint (the OpenAI `/v1/moderations`
 * request/response shape) whether text is allowed. Register it in code and reference it from
 * config:
 *
 *   const plugin = Guardrails.withChecks({ moderation: Moderation.check({ url, apiKey }) })
 *   # guardrails: { policies: { moderated: { custom: moderation, timeout: 2s } } }
 *
 * The policy's timeout interrupts the call, which aborts the HTTP request (fetch's signal);
 * a failure or timeout blocks unless the policy says `onError: allow`.
 */
import { Data, Effect, Redacted, Schema } from "effect"
import { Custom } from "../src/index.ts"

const ModerationResponse = Schema.Struct({
  results: Schema.NonEmptyArray(
    Schema.Struct({
      flagged: Schema.Boolean,
      categories: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Boolean })),
    }),
  ),
})

export class ModerationError extends Data.TaggedError("ModerationError")<{ readonly reason: string }> {}

export interface Options {
  readonly url: string
  readonly apiKey?: Redacted.Redacted<string> | undefined
  readonly model?: string | undefined
}

export const check =
  (options: Options): Custom.Check =>
  (input) =>
    Effect.tryPromise({
      try: (signal) =>
        fetch(options.url, {
          method: "POST",
          signal,
          headers: {
            "content-type": "application/json",
            ...(options.apiKey !== undefined ? { authorization: `Bearer ${Redacted.value(options.apiKey)}` } : {}),
          },
          body: JSON.stringify({ input: input.text, ...(options.model !== undefined ? { model: options.model } : {}) }),
        }),
      catch: () => new ModerationError({ reason: "moderation endpoint unreachable" }),
    }).pipe(
      Effect.filterOrFail(
        (res) => res.ok,
        (res) => new ModerationError({ reason: `moderation endpoint answered ${res.status}` }),
      ),
      Effect.flatMap((res) =>
        Effect.tryPromise({
          try: () => res.json() as Promise<unknown>,
          catch: () => new ModerationError({ reason: "moderation answer is not JSON" }),
        }),
      ),
      Effect.flatMap((body) =>
        Schema.decodeUnknown(ModerationResponse)(body).pipe(
          Effect.mapError(() => new ModerationError({ reason: "unexpected moderation answer" })),
        ),
      ),
      Effect.map(({ results }) => {
        const flagged = results.find((r) => r.flagged)
        if (flagged === undefined) return Custom.allow
        const categories = Object.entries(flagged.categories ?? {})
          .filter(([, on]) => on)
          .map(([name]) => name)
        return Custom.block(categories.length > 0 ? `flagged as ${categories.join(", ")}` : "flagged by moderation")
      }),
    )
