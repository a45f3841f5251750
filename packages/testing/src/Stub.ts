/**
 * Test a middleware alone: give it a stub handler, call it with a fixture request, look at
 * what the stub saw and what came back.
 */
import { Effect, Stream } from "effect"
import type { ChatRequest, ChatResponse, GatewayError, StreamEvent } from "@sluice/schema"
import { Collect, type GatewayRequest, type GatewayResponse, type HandlerFn, type RequestContext } from "@sluice/core"

export const context = (overrides: Partial<RequestContext> = {}): RequestContext => ({
  id: "req-test",
  ingress: "openai",
  startedAt: Date.now(),
  headers: {},
  credential: undefined,
  ...overrides,
})

export const chatRequest = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
  model: "mock",
  messages: [{ role: "user", parts: [{ type: "text", text: "hello" }] }],
  stream: false,
  ...overrides,
})

export const chat = (
  chatOverrides: Partial<ChatRequest> = {},
  ctxOverrides: Partial<RequestContext> = {},
): GatewayRequest => ({ _tag: "Chat", ctx: context(ctxOverrides), chat: chatRequest(chatOverrides) })

export const chatResponse = (overrides: Partial<ChatResponse> = {}): ChatResponse => ({
  id: "resp-test",
  model: "mock",
  parts: [{ type: "text", text: "hi" }],
  finishReason: "stop",
  usage: { inputTokens: 3, outputTokens: 1 },
  created: 0,
  ...overrides,
})

export interface Stub {
  readonly handler: HandlerFn
  /** Every request the stub received, in order. */
  readonly calls: Array<GatewayRequest>
}

/** A handler that records its calls and answers with `respond` (default: a fixed chat answer). */
export const stub = (
  respond: (request: GatewayRequest) => Effect.Effect<GatewayResponse, GatewayError> = (request) =>
    request._tag === "Chat" && request.chat.stream
      ? Effect.succeed({ _tag: "ChatStream", events: Stream.fromIterable(streamOf(chatResponse())), headers: {} })
      : Effect.succeed({ _tag: "Chat", chat: chatResponse(), headers: {} }),
): Stub => {
  const calls: Array<GatewayRequest> = []
  return {
    calls,
    handler: (request) => {
      calls.push(request)
      return respond(request)
    },
  }
}

/** A stub that always fails with `error`. */
export const failing = (error: GatewayError): Stub => stub(() => Effect.fail(error))

/** The canonical events of a complete answer, one delta per part. */
export const streamOf = (response: ChatResponse): Array<StreamEvent> => Collect.eventsOf(response)

/** Run a handler on a request and collect a streamed answer's events. */
export const collect = (response: GatewayResponse): Effect.Effect<Array<StreamEvent>, GatewayError> =>
  response._tag === "ChatStream"
    ? Effect.map(Stream.runCollect(response.events), (c) => Array.from(c))
    : Effect.succeed([])
