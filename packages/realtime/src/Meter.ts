/**
 * A session's metering through the gateway's own middleware: the connect is admitted as a
 * token count (auth, model allow-list, a request against the rate limit), each turn runs as a
 * streamed chat whose events the session feeds in — so auth, rate limits (requests and tokens),
 * budgets (reserve, settle from the turn's usage), tracing and guardrails treat a turn as they
 * treat a streamed request — and the key is re-checked periodically with auth alone.
 */
import { Effect, Exit, Queue, Runtime, Stream } from "effect"
import type { GatewayRequest, HandlerFn, MiddlewareFn, RequestContext } from "@sluice/core"
import { Chat, Errors, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"

export interface NamedMiddleware {
  readonly name: string
  readonly middleware: MiddlewareFn
}

const compose = (middleware: ReadonlyArray<NamedMiddleware>, terminal: HandlerFn): HandlerFn =>
  middleware.reduceRight<HandlerFn>((next, m) => m.middleware(next), terminal)

export interface Turn {
  readonly text: (delta: string) => void
  readonly toolCall: (id: string, name: string, args: string) => void
  /** Ends the turn; resolves when the middleware has settled it. */
  readonly finish: (usage: Usage | undefined, status: "completed" | "cancelled" | "failed") => Promise<void>
}

export interface Meter {
  readonly admit: () => Promise<GatewayError | undefined>
  readonly recheck: () => Promise<GatewayError | undefined>
  /** Runs the turn's request through the middleware; resolves once it is admitted (or refused). */
  readonly turn: (
    texts: ReadonlyArray<string>,
    onFailure: (e: GatewayError) => void,
  ) => Promise<{ readonly turn: Turn } | { readonly error: GatewayError }>
}

let turns = 0
const failed: GatewayError = new Errors.Internal({ message: "metering failed" })

export const make = (options: {
  readonly middleware: ReadonlyArray<NamedMiddleware>
  readonly runtime: Runtime.Runtime<never>
  readonly ctx: RequestContext
  readonly model: string
  readonly maxTokens?: number | undefined
}): Meter => {
  const { runtime, ctx, model } = options
  const run = <A>(effect: Effect.Effect<A, GatewayError>): Promise<GatewayError | undefined> =>
    Runtime.runPromiseExit(runtime)(effect).then((exit) =>
      Exit.isSuccess(exit) ? undefined : exit.cause._tag === "Fail" ? exit.cause.error : failed,
    )
  const countTokens: HandlerFn = () => Effect.succeed({ _tag: "CountTokens", inputTokens: 0, headers: {} })
  const request = (texts: ReadonlyArray<string>, stream: boolean): GatewayRequest => ({
    _tag: stream ? "Chat" : "CountTokens",
    ctx: { ...ctx, id: `${ctx.id}-${++turns}`, startedAt: Date.now() },
    chat: {
      model,
      messages: texts.map((text) => ({ role: "user" as const, parts: [{ type: "text" as const, text }] })),
      stream,
      ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
    },
  })
  const auth = options.middleware.filter((m) => m.name === "auth")
  return {
    admit: () => run(compose(options.middleware, countTokens)(request([], false))),
    recheck: () => run(compose(auth, countTokens)(request([], false))),
    turn: async (texts, onFailure) => {
      const queue = Effect.runSync(Queue.unbounded<StreamEvent>())
      const offer = (e: StreamEvent) => Effect.runSync(Queue.offer(queue, e))
      const terminal: HandlerFn = () =>
        Effect.succeed({
          _tag: "ChatStream",
          events: Stream.fromQueue(queue).pipe(Stream.takeUntil((e) => e._tag === "finish")),
          headers: {},
        })
      const exit = await Runtime.runPromiseExit(runtime)(compose(options.middleware, terminal)(request(texts, true)))
      if (Exit.isFailure(exit)) return { error: exit.cause._tag === "Fail" ? exit.cause.error : failed }
      const response = exit.value
      if (response._tag !== "ChatStream") return { error: failed }
      const drained = Runtime.runPromiseExit(runtime)(Stream.runDrain(response.events)).then((e) => {
        if (Exit.isFailure(e) && e.cause._tag === "Fail") onFailure(e.cause.error)
      })
      offer({ _tag: "start", id: ctx.id, model })
      let calls = 0
      return {
        turn: {
          text: (text) => offer({ _tag: "text_delta", text }),
          toolCall: (id, name, args) => {
            const index = calls++
            offer({ _tag: "tool_call_start", index, id, name })
            offer({ _tag: "tool_call_delta", index, arguments: args })
            offer({ _tag: "tool_call_end", index })
          },
          finish: (usage, status) => {
            offer({
              _tag: "finish",
              finishReason:
                status === "completed" ? (calls > 0 ? "tool_calls" : "stop") : status === "failed" ? "error" : "other",
              usage: usage ?? Chat.emptyUsage,
            })
            return drained
          },
        },
      }
    },
  }
}
