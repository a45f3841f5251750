/**
 * Canonical stream events → Anthropic's SSE event sequence (the ingress direction):
 * message_start, ping, content_block_start/delta/stop per block (indexes 0-based and
 * contiguous, one block open at a time), message_delta with the stop reason and cumulative
 * usage, message_stop. Every frame carries its `event:` line, which the SDK dispatches on.
 *
 * `message_start` waits for the event after `start`, so an upstream's early usage event (input
 * tokens, as Anthropic reports them) lands in it; otherwise message_delta corrects the count.
 * A tool call that starts while another is still streaming is buffered and replayed when the
 * open one ends, so blocks never interleave.
 */
import { Ingress } from "@sluice/core"
import { CallId, Chat, type ChatResponse, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"
import * as ErrorCodec from "./ErrorCodec.ts"
import { messageId, stopReasonFor, wireUsageOf } from "./Response.ts"

const frame = (type: string, data: Record<string, unknown>): string =>
  Ingress.sseFrame(JSON.stringify({ type, ...data }), type)

interface PendingTool {
  readonly id: string
  readonly name: string
  args: string
  ended: boolean
}

type Open =
  | { readonly kind: "text" }
  | { readonly kind: "thinking" }
  | { readonly kind: "tool"; readonly toolIndex: number }
  | undefined

export class Encoder {
  private started: { id: string; model: string } | undefined
  private messageStarted = false
  private finished = false
  private usage: Usage = Chat.emptyUsage
  private blockIndex = -1
  private open: Open = undefined
  /** Tool calls waiting for the open tool block to end, in start order. */
  private readonly queue: Array<{ index: number; tool: PendingTool }> = []
  private readonly queued = new Map<number, PendingTool>()
  /** Tool indexes whose block was already closed. */
  private readonly done = new Set<number>()

  constructor(private readonly extras?: ChatResponse["extras"]) {}

  push(event: StreamEvent): Array<string> {
    const out: Array<string> = []
    if (this.finished) return out
    if (event._tag === "start") {
      this.started = { id: event.id, model: event.model }
      return out
    }
    if (event._tag === "usage") {
      this.usage = event.usage
      if (!this.messageStarted) this.startMessage(out)
      return out
    }
    this.startMessage(out)
    switch (event._tag) {
      case "text_delta":
        if (event.text === "") break
        if (this.open?.kind !== "text") this.openBlock(out, { kind: "text" }, { type: "text", text: "" })
        out.push(this.delta({ type: "text_delta", text: event.text }))
        break
      case "reasoning_delta":
        if (event.redacted !== undefined) {
          this.openBlock(out, { kind: "thinking" }, { type: "redacted_thinking", data: event.redacted })
          this.closeBlock(out)
          break
        }
        if (this.open?.kind !== "thinking") {
          if (event.text === "" && event.signature === undefined) break
          this.openBlock(out, { kind: "thinking" }, { type: "thinking", thinking: "", signature: "" })
        }
        if (event.text !== "") out.push(this.delta({ type: "thinking_delta", thinking: event.text }))
        // A signature closes the reasoning block (canonical contract and Anthropic's order).
        if (event.signature !== undefined) {
          out.push(this.delta({ type: "signature_delta", signature: event.signature }))
          this.closeBlock(out)
        }
        break
      case "image":
        // A whole image block: its start carries the data, no deltas (see Response.blockOf).
        this.openBlock(
          out,
          { kind: "text" },
          { type: "image", source: { type: "base64", media_type: event.mediaType, data: event.data } },
        )
        this.closeBlock(out)
        break
      case "tool_call_start": {
        const tool: PendingTool = {
          id: CallId.wrap(event.id, event.signature),
          name: event.name,
          args: "",
          ended: false,
        }
        if (this.open?.kind === "tool") {
          this.queue.push({ index: event.index, tool })
          this.queued.set(event.index, tool)
        } else this.openTool(out, event.index, tool)
        break
      }
      case "tool_call_delta": {
        if (event.arguments === "") break
        const waiting = this.queued.get(event.index)
        if (waiting !== undefined) waiting.args += event.arguments
        else if (this.open?.kind === "tool" && this.open.toolIndex === event.index)
          out.push(this.delta({ type: "input_json_delta", partial_json: event.arguments }))
        break
      }
      case "tool_call_end": {
        const waiting = this.queued.get(event.index)
        if (waiting !== undefined) waiting.ended = true
        else if (this.open?.kind === "tool" && this.open.toolIndex === event.index) {
          this.closeBlock(out)
          this.drain(out, false)
        }
        break
      }
      case "finish":
        this.closeBlock(out)
        this.drain(out, true)
        this.finished = true
        this.usage = event.usage
        out.push(
          frame("message_delta", {
            delta: {
              stop_reason: stopReasonFor(event.finishReason, this.extras),
              stop_sequence: event.stopSequence ?? null,
            },
            usage: wireUsageOf(event.usage),
          }),
        )
        out.push(frame("message_stop", {}))
        break
    }
    return out
  }

  /** A keep-alive while the upstream is silent. */
  tick(): Array<string> {
    if (this.finished) return []
    const out: Array<string> = []
    if (this.started !== undefined) this.startMessage(out)
    if (this.messageStarted) out.push(frame("ping", {}))
    return out
  }

  /** The stream failed: Anthropic ends it with an `error` event (after a 200, as it does). */
  fail(error: GatewayError): Array<string> {
    if (this.finished) return []
    this.finished = true
    const { body } = ErrorCodec.render(error)
    return [Ingress.sseFrame(JSON.stringify(body), "error")]
  }

  /** The canonical stream ended without `finish`: close the message as Anthropic would. */
  end(): Array<string> {
    if (this.finished || !this.messageStarted) return []
    return this.push({ _tag: "finish", finishReason: "stop", usage: this.usage })
  }

  private startMessage(out: Array<string>): void {
    if (this.messageStarted) return
    this.messageStarted = true
    const s = this.started ?? { id: crypto.randomUUID(), model: "unknown" }
    const usage = wireUsageOf(this.usage)
    out.push(
      frame("message_start", {
        message: {
          id: messageId(s.id),
          type: "message",
          role: "assistant",
          model: s.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      }),
    )
    out.push(frame("ping", {}))
  }

  private openBlock(out: Array<string>, open: NonNullable<Open>, contentBlock: Record<string, unknown>): void {
    this.closeBlock(out)
    this.blockIndex++
    this.open = open
    out.push(frame("content_block_start", { index: this.blockIndex, content_block: contentBlock }))
  }

  private closeBlock(out: Array<string>): void {
    if (this.open === undefined) return
    if (this.open.kind === "tool") this.done.add(this.open.toolIndex)
    this.open = undefined
    out.push(frame("content_block_stop", { index: this.blockIndex }))
  }

  private delta(delta: Record<string, unknown>): string {
    return frame("content_block_delta", { index: this.blockIndex, delta })
  }

  private openTool(out: Array<string>, index: number, tool: PendingTool): void {
    this.openBlock(
      out,
      { kind: "tool", toolIndex: index },
      { type: "tool_use", id: tool.id, name: tool.name, input: {} },
    )
    if (tool.args !== "") out.push(this.delta({ type: "input_json_delta", partial_json: tool.args }))
  }

  /** Replay buffered tool calls; at the end of the stream, even those that never ended. */
  private drain(out: Array<string>, all: boolean): void {
    while (this.queue.length > 0) {
      const next = this.queue.shift()!
      this.queued.delete(next.index)
      this.openTool(out, next.index, next.tool)
      if (!next.tool.ended && !all) return
      this.closeBlock(out)
    }
  }
}
