/**
 * Converting between a complete answer and a stream of events, for when a handler answers in
 * the other shape than the client asked (a cache middleware may answer a stream request whole).
 */
import { Effect, Stream } from "effect"
import type { ChatResponse, GatewayError, Part, StreamEvent, Usage } from "@sluice/schema"
import type { GatewayResponse } from "./Handler.ts"

/**
 * A chat answer as events, whichever shape it came in: a stream as it is, a complete answer as its
 * events; `undefined` for an answer that is not a chat (each caller says so in its own way).
 */
export const eventsOfAnswer = (response: GatewayResponse): Stream.Stream<StreamEvent, GatewayError> | undefined =>
  response._tag === "ChatStream"
    ? response.events
    : response._tag === "Chat"
      ? Stream.fromIterable(eventsOf(response.chat))
      : undefined

/** The events of a complete answer. */
export const eventsOf = (r: ChatResponse): Array<StreamEvent> => {
  const events: Array<StreamEvent> = [{ _tag: "start", id: r.id, model: r.model }]
  let index = 0
  for (const p of r.parts) {
    if (p.type === "text")
      events.push({
        _tag: "text_delta",
        text: p.text,
        ...(p.signature !== undefined ? { signature: p.signature } : {}),
      })
    else if (p.type === "reasoning")
      events.push({
        _tag: "reasoning_delta",
        text: p.text,
        ...(p.signature !== undefined ? { signature: p.signature } : {}),
        ...(p.redacted !== undefined ? { redacted: p.redacted } : {}),
      })
    else if (p.type === "image" && p.source.kind === "base64")
      events.push({
        _tag: "image",
        mediaType: p.source.mediaType,
        data: p.source.data,
        ...(p.signature !== undefined ? { signature: p.signature } : {}),
      })
    else if (p.type === "tool_call") {
      events.push({
        _tag: "tool_call_start",
        index,
        id: p.id,
        name: p.name,
        ...(p.signature !== undefined ? { signature: p.signature } : {}),
      })
      events.push({ _tag: "tool_call_delta", index, arguments: p.arguments })
      events.push({ _tag: "tool_call_end", index })
      index++
    }
  }
  events.push({ _tag: "finish", finishReason: r.finishReason, usage: r.usage })
  return events
}

/** Fold a stream of events into the complete answer. */
export const collect = (events: Stream.Stream<StreamEvent, GatewayError>): Effect.Effect<ChatResponse, GatewayError> =>
  Effect.suspend(() => {
    let id = ""
    let model = ""
    const parts: Array<Part> = []
    const calls = new Map<number, { id: string; name: string; args: string; at: number }>()
    let finishReason: ChatResponse["finishReason"] = "stop"
    let usage: Usage = { inputTokens: 0, outputTokens: 0 }
    const last = () => parts[parts.length - 1]
    return Stream.runForEach(events, (e) =>
      Effect.sync(() => {
        switch (e._tag) {
          case "start":
            id = e.id
            model = e.model
            break
          case "text_delta": {
            const l = last()
            if (l?.type === "text") parts[parts.length - 1] = { ...l, text: l.text + e.text }
            else parts.push({ type: "text", text: e.text })
            break
          }
          case "reasoning_delta": {
            const l = last()
            if (l?.type === "reasoning" && l.signature === undefined)
              parts[parts.length - 1] = {
                ...l,
                text: l.text + e.text,
                ...(e.signature ? { signature: e.signature } : {}),
              }
            else parts.push({ type: "reasoning", text: e.text, ...(e.signature ? { signature: e.signature } : {}) })
            break
          }
          case "image":
            parts.push({
              type: "image",
              source: { kind: "base64", mediaType: e.mediaType, data: e.data },
              ...(e.signature !== undefined ? { signature: e.signature } : {}),
            })
            break
          case "tool_call_start":
            calls.set(e.index, { id: e.id, name: e.name, args: "", at: parts.length })
            parts.push({ type: "tool_call", id: e.id, name: e.name, arguments: "" })
            break
          case "tool_call_delta": {
            const c = calls.get(e.index)
            if (c !== undefined) {
              c.args += e.arguments
              parts[c.at] = { type: "tool_call", id: c.id, name: c.name, arguments: c.args }
            }
            break
          }
          case "tool_call_end":
            break
          case "usage":
            usage = e.usage
            break
          case "finish":
            finishReason = e.finishReason
            usage = e.usage
            break
        }
      }),
    ).pipe(Effect.map(() => ({ id, model, parts, finishReason, usage, created: Math.floor(Date.now() / 1000) })))
  })
