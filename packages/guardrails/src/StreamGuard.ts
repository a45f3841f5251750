/**
 * Output policies on a stream, as it flows. Text (and reasoning) is released with a hold-back
 * window: the last `holdBack` characters stay pending so a match split across chunks is seen
 * whole before any of it is sent, and a redaction match is never cut in two. Tool calls are
 * held from start to end and checked as complete JSON. A blocking match fails the stream with
 * a GuardrailViolation; what was pending is dropped, so the blocked text is never sent.
 *
 * Custom checks need whole segments, so with one in play text is held until its segment ends
 * (a tool call, the finish, or a signature).
 *
 * A match that reaches the end of what is pending may still grow, so it is held whole: a
 * private key is held from its BEGIN line until its END line. Held past `holdMax` characters,
 * the stream is blocked — never released unchecked.
 */
import type { GatewayRequest } from "@sluice/core"
import type { Errors, StreamEvent, Stream as SchemaStream } from "@sluice/schema"
import { Effect } from "effect"
import * as Detectors from "./Detectors.ts"
import * as Normalize from "./Normalize.ts"
import { Inspector } from "./Inspect.ts"
import type { Compiled } from "./Policy.ts"
import * as Scan from "./Scan.ts"

type Channel = "text" | "reasoning"
type Out = Effect.Effect<Array<StreamEvent>, Errors.GuardrailViolation>

const none: Out = Effect.succeed([])

export class StreamGuard {
  private pending = ""
  private channel: Channel = "text"
  private readonly calls = new Map<number, { start: SchemaStream.StreamEventOf<"tool_call_start">; args: string }>()
  private readonly redacting: ReadonlyArray<Compiled>
  private readonly toolPolicies: ReadonlyArray<Compiled>
  private readonly custom: ReadonlyArray<Compiled>
  private readonly window: number
  private readonly holdMax: number

  constructor(
    private readonly policies: ReadonlyArray<Compiled>,
    hold: { readonly holdBack: number; readonly holdMax: number },
    private readonly request: GatewayRequest,
  ) {
    this.redacting = policies.filter((p) => p.action === "redact")
    this.toolPolicies = policies.filter((p) => p.tools)
    this.custom = policies.filter((p) => p.custom !== undefined)
    const floor = Math.max(0, ...policies.map((p) => p.holdFloor))
    this.window = this.custom.length > 0 ? Number.POSITIVE_INFINITY : Math.max(hold.holdBack, floor)
    this.holdMax = hold.holdMax
  }

  push(e: StreamEvent): Out {
    switch (e._tag) {
      case "text_delta":
        return this.delta("text", e.text, e.signature, undefined)
      case "reasoning_delta":
        return this.delta("reasoning", e.text, e.signature, e.redacted)
      case "image":
        // Images are not text to scan; held text before one is released (or blocked) first.
        return this.followedBy(this.flush(), [e])
      case "tool_call_start":
        if (this.toolPolicies.length === 0) return this.followedBy(this.flush(), [e])
        this.calls.set(e.index, { start: e, args: "" })
        return this.flush()
      case "tool_call_delta": {
        const call = this.calls.get(e.index)
        if (call === undefined) return Effect.succeed([e])
        call.args += e.arguments
        return none
      }
      case "tool_call_end": {
        const call = this.calls.get(e.index)
        if (call === undefined) return Effect.succeed([e])
        this.calls.delete(e.index)
        return this.releaseCall(call, e)
      }
      case "finish":
        return this.followedBy(this.end(), [e])
      case "start":
      case "usage":
        return Effect.succeed([e])
    }
  }

  /** Release everything still held (the stream ended). */
  end(): Out {
    let out = this.flush()
    for (const [index, call] of this.calls) {
      this.calls.delete(index)
      out = Effect.flatMap(out, (a) =>
        Effect.map(this.releaseCall(call, { _tag: "tool_call_end", index }), (b) => [...a, ...b]),
      )
    }
    return out
  }

  private followedBy(out: Out, after: Array<StreamEvent>): Out {
    return Effect.map(out, (a) => (a.length === 0 ? after : [...a, ...after]))
  }

  private releaseCall(
    call: { start: SchemaStream.StreamEventOf<"tool_call_start">; args: string },
    end: SchemaStream.StreamEventOf<"tool_call_end">,
  ): Out {
    const inspector = new Inspector("output", [], this.toolPolicies)
    const args = inspector.json(call.args)
    if (inspector.error !== undefined) return Effect.fail(inspector.error)
    const events: Array<StreamEvent> = [call.start]
    if (args.length > 0) events.push({ _tag: "tool_call_delta", index: call.start.index, arguments: args })
    events.push(end)
    return Effect.succeed(events)
  }

  private delta(channel: Channel, text: string, signature?: string, redacted?: string): Out {
    const switched = channel !== this.channel && this.pending.length > 0 ? this.flush() : none
    this.channel = channel
    this.pending += text
    const blocked = this.blockCheck()
    if (blocked !== undefined) return Effect.fail(blocked)
    if (signature === undefined && redacted === undefined) {
      return Effect.flatMap(switched, (a) => {
        const b = this.release(false)
        return a.length === 0 ? b : Effect.map(b, (x) => [...a, ...x])
      })
    }
    // A signature closes the block: release it whole and keep the signature on its last delta.
    return Effect.flatMap(switched, (a) =>
      Effect.map(this.release(true), (b) => {
        const last = b.pop()
        const text =
          last !== undefined && (last._tag === "text_delta" || last._tag === "reasoning_delta") ? last.text : ""
        const closing: StreamEvent =
          channel === "text"
            ? { _tag: "text_delta", text, ...(signature !== undefined ? { signature } : {}) }
            : {
                _tag: "reasoning_delta",
                text,
                ...(signature !== undefined ? { signature } : {}),
                ...(redacted !== undefined ? { redacted } : {}),
              }
        return [...a, ...b, closing]
      }),
    )
  }

  private flush(): Out {
    return this.pending.length === 0 ? none : this.release(true)
  }

  private blockCheck(): Errors.GuardrailViolation | undefined {
    const hit = Scan.firstBlock(this.policies, this.pending)
    return hit === undefined ? undefined : Scan.found(hit.policy, "output", hit.kind)
  }

  /**
   * Where the hold-back window starts: `window` characters from the end as detectors count
   * them, so invisible padding inside a secret cannot push its start out of the window.
   */
  private windowStart(text: string): number {
    if (this.window === Number.POSITIVE_INFINITY) return 0
    const n = Normalize.normalize(text)
    const at = n.text.length - this.window
    if (at <= 0) return 0
    return n.from === undefined ? at : (n.from[at] ?? text.length)
  }

  /** The redacting policy whose match keeps text from `cut` on held, if any. */
  private holding(text: string, cut: number): string | undefined {
    for (const p of this.redacting)
      if (Scan.matches([p], text).some((m) => m.start <= cut && m.end > cut)) return p.name
    return undefined
  }

  /** Emit what is safe to emit: all of it when `final`, else all but the hold-back window. */
  private release(final: boolean): Out {
    const text = this.pending
    const matches = Scan.matches(this.redacting, text)
    let cut = final ? text.length : this.windowStart(text)
    if (!final) {
      // Never cut through a match: it might still grow, and half a mask would leak the rest.
      let moved = true
      while (moved) {
        moved = false
        for (const m of matches) {
          if (m.start < cut && m.end > cut) {
            cut = m.start
            moved = true
          }
        }
      }
      const code = text.charCodeAt(cut - 1)
      if (cut > 0 && cut < text.length && code >= 0xd800 && code <= 0xdbff) cut--
      if (text.length - cut > this.holdMax && this.window !== Number.POSITIVE_INFINITY) {
        const holding = this.holding(text, cut)
        if (holding !== undefined) {
          this.pending = ""
          return Effect.fail(
            Scan.violation(holding, "output", `a possible secret ran past ${this.holdMax} characters without ending`),
          )
        }
      }
    }
    if (cut === 0) return none
    const head = text.slice(0, cut)
    this.pending = text.slice(cut)
    const masked = Detectors.mask(
      head,
      matches.filter((m) => m.end <= cut),
    )
    const event: StreamEvent =
      this.channel === "text" ? { _tag: "text_delta", text: masked } : { _tag: "reasoning_delta", text: masked }
    if (this.custom.length === 0) return Effect.succeed([event])
    return Effect.as(
      Effect.forEach(this.custom, (p) => Scan.custom(p, { text: masked, direction: "output", request: this.request }), {
        concurrency: "unbounded",
        discard: true,
      }),
      [event],
    )
  }
}
