/**
 * Anthropic's SSE event sequence → canonical stream events (the provider direction).
 * message_start gives `start` and the early input-token count (`usage`); blocks map to text,
 * reasoning (thinking_delta, then the signature_delta that closes the block; redacted_thinking
 * whole) and tool calls (input_json_delta fragments passed on as they come); message_delta's
 * cumulative usage and stop reason end in `finish` at message_stop. An `error` event fails the
 * stream with the matching canonical error.
 */
import { Either } from "effect"
import * as Schema from "effect/Schema"
import { Errors, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"
import * as ErrorCodec from "./ErrorCodec.ts"
import { finishReasonOf, type WireUsage, usageOf } from "./Response.ts"
import type { Sse } from "@sluice/core"
import * as Wire from "./Wire.ts"

const decodeEvent = Schema.decodeUnknownEither(Wire.StreamEvent)

type Result = Either.Either<Array<StreamEvent>, GatewayError>

export class Decoder {
  private started = false
  private stopped = false
  private usage: WireUsage = { input_tokens: 0, output_tokens: 0 }
  private stopReason: string | null = null
  private stopSequence: string | null = null
  /** Anthropic block index → canonical tool index, for open tool_use blocks. */
  private readonly tools = new Map<number, number>()
  private nextTool = 0

  constructor(private readonly provider: string) {}

  private broken(message: string): Result {
    return Either.left(
      new Errors.UpstreamError({ message: `${this.provider}: ${message}`, status: 502, provider: this.provider }),
    )
  }

  push(message: Sse.Event): Result {
    if (this.stopped) return Either.right([])
    let json: unknown
    try {
      json = JSON.parse(message.data)
    } catch {
      return this.broken(`stream event "${message.event ?? "message"}" is not JSON`)
    }
    if (message.event === "error" || (typeof json === "object" && json !== null && "error" in json)) {
      return Either.left(ErrorCodec.fromStreamError(json, this.provider))
    }
    const decoded = decodeEvent(json)
    // Event types added after this codec was written are skipped, as the SDK skips them.
    if (Either.isLeft(decoded)) return Either.right([])
    const event = decoded.right
    const out: Array<StreamEvent> = []
    switch (event.type) {
      case "message_start":
        this.started = true
        this.usage = event.message.usage
        out.push({ _tag: "start", id: event.message.id, model: event.message.model })
        out.push({ _tag: "usage", usage: usageOf(this.usage) })
        break
      case "content_block_start": {
        if (!this.started) return this.broken("content_block_start before message_start")
        const b = event.content_block
        if (b.type === "text") {
          const text = (b as Wire.TextBlock).text
          if (text !== "") out.push({ _tag: "text_delta", text })
        } else if (b.type === "thinking") {
          const t = b as Wire.ThinkingBlock
          if (t.thinking !== "") out.push({ _tag: "reasoning_delta", text: t.thinking })
        } else if (b.type === "redacted_thinking") {
          out.push({ _tag: "reasoning_delta", text: "", redacted: (b as Wire.RedactedThinkingBlock).data })
        } else if (b.type === "tool_use") {
          const t = b as Wire.ToolUseBlock
          const index = this.nextTool++
          this.tools.set(event.index, index)
          out.push({ _tag: "tool_call_start", index, id: t.id, name: t.name })
          if (Object.keys(t.input).length > 0)
            out.push({ _tag: "tool_call_delta", index, arguments: JSON.stringify(t.input) })
        }
        break
      }
      case "content_block_delta": {
        const d = event.delta
        if (d.type === "text_delta") out.push({ _tag: "text_delta", text: d.text })
        else if (d.type === "thinking_delta") out.push({ _tag: "reasoning_delta", text: d.thinking })
        else if (d.type === "signature_delta") out.push({ _tag: "reasoning_delta", text: "", signature: d.signature })
        else if (d.type === "input_json_delta") {
          const index = this.tools.get(event.index)
          if (index !== undefined && d.partial_json !== "")
            out.push({ _tag: "tool_call_delta", index, arguments: d.partial_json })
        }
        break
      }
      case "content_block_stop": {
        const index = this.tools.get(event.index)
        if (index !== undefined) {
          this.tools.delete(event.index)
          out.push({ _tag: "tool_call_end", index })
        }
        break
      }
      case "message_delta": {
        this.stopReason = event.delta.stop_reason
        this.stopSequence = event.delta.stop_sequence ?? null
        // message_delta usage is cumulative and overwrites what message_start said.
        const u = event.usage
        this.usage = {
          ...this.usage,
          output_tokens: u.output_tokens,
          ...(u.input_tokens != null ? { input_tokens: u.input_tokens } : {}),
          ...(u.cache_creation_input_tokens != null
            ? { cache_creation_input_tokens: u.cache_creation_input_tokens }
            : {}),
          ...(u.cache_read_input_tokens != null ? { cache_read_input_tokens: u.cache_read_input_tokens } : {}),
        }
        break
      }
      case "message_stop": {
        if (!this.started) return this.broken("message_stop before message_start")
        this.stopped = true
        for (const index of this.tools.values()) out.push({ _tag: "tool_call_end", index })
        this.tools.clear()
        out.push({
          _tag: "finish",
          finishReason: finishReasonOf(this.stopReason),
          ...(this.stopSequence !== null ? { stopSequence: this.stopSequence } : {}),
          usage: this.currentUsage(),
        })
        break
      }
      case "ping":
      case "error":
        break
    }
    return Either.right(out)
  }

  /** The upstream closed the stream: fine after message_stop, a broken stream otherwise. */
  end(): Result {
    return this.stopped ? Either.right([]) : this.broken("the stream ended before message_stop")
  }

  currentUsage(): Usage {
    return usageOf(this.usage)
  }
}
