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
type Violation = Errors.GuardrailViolation | undefined

/**
 * The guard itself is plain JS: `push` and `end` add what is safe to send to `out`, or return
 * the violation that ends the stream. Custom checks are the only part that may call out: with
 * one in play, each released text is also queued, and `takeChecks` hands the queue to `check`,
 * which must pass before what `push` (or `end`) added is sent.
 */
export class StreamGuard {
  private pending = ""
  private channel: Channel = "text"
  private readonly calls = new Map<number, { start: SchemaStream.StreamEventOf<"tool_call_start">; args: string }>()
  private readonly redacting: ReadonlyArray<Compiled>
  private readonly toolPolicies: ReadonlyArray<Compiled>
  private readonly custom: ReadonlyArray<Compiled>
  private readonly window: number
  private readonly holdMax: number
  /** Released text awaiting the custom checks, in order (only with one in play). */
  private checks: Array<string> = []

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

  /**
   * Add to `out` what `e` releases, or return the violation it causes: then nothing of `e` is
   * added, and the stream ends.
   */
  push(e: StreamEvent, out: Array<StreamEvent>): Violation {
    const mark = out.length
    const error = this.step(e, out)
    if (error !== undefined) out.length = mark
    return error
  }

  /** Release everything still held (the stream ended); as `push`, all of it or a violation. */
  end(out: Array<StreamEvent>): Violation {
    const mark = out.length
    const error = this.close(out)
    if (error !== undefined) out.length = mark
    return error
  }

  /**
   * The texts released since the last call that custom checks must pass, in order (none
   * without a custom check). With a violation from `push` or `end`, the checks taken still run
   * first: one that fails names the violation.
   */
  takeChecks(): ReadonlyArray<string> {
    if (this.checks.length === 0) return this.checks
    const taken = this.checks
    this.checks = []
    return taken
  }

  /** Run the custom checks over taken texts: one text after another, its checks concurrently. */
  check(texts: ReadonlyArray<string>): Effect.Effect<void, Errors.GuardrailViolation> {
    return Effect.forEach(
      texts,
      (text) =>
        Effect.forEach(this.custom, (p) => Scan.custom(p, { text, direction: "output", request: this.request }), {
          concurrency: "unbounded",
          discard: true,
        }),
      { discard: true },
    )
  }

  private step(e: StreamEvent, out: Array<StreamEvent>): Violation {
    switch (e._tag) {
      case "text_delta":
        return this.delta("text", e.text, e.signature, undefined, out)
      case "reasoning_delta":
        return this.delta("reasoning", e.text, e.signature, e.redacted, out)
      case "image":
        // Images are not text to scan; held text before one is released (or blocked) first.
        this.flush(out)
        out.push(e)
        return undefined
      case "tool_call_start":
        this.flush(out)
        if (this.toolPolicies.length === 0) out.push(e)
        else this.calls.set(e.index, { start: e, args: "" })
        return undefined
      case "tool_call_delta": {
        const call = this.calls.get(e.index)
        if (call === undefined) out.push(e)
        else call.args += e.arguments
        return undefined
      }
      case "tool_call_end": {
        const call = this.calls.get(e.index)
        if (call === undefined) {
          out.push(e)
          return undefined
        }
        this.calls.delete(e.index)
        return this.releaseCall(call, e, out)
      }
      case "finish": {
        const error = this.close(out)
        if (error === undefined) out.push(e)
        return error
      }
      case "start":
      case "usage":
        out.push(e)
        return undefined
    }
  }

  private close(out: Array<StreamEvent>): Violation {
    this.flush(out)
    for (const [index, call] of this.calls) {
      this.calls.delete(index)
      const error = this.releaseCall(call, { _tag: "tool_call_end", index }, out)
      if (error !== undefined) return error
    }
    return undefined
  }

  private releaseCall(
    call: { start: SchemaStream.StreamEventOf<"tool_call_start">; args: string },
    end: SchemaStream.StreamEventOf<"tool_call_end">,
    out: Array<StreamEvent>,
  ): Violation {
    const inspector = new Inspector("output", [], this.toolPolicies)
    const args = inspector.json(call.args)
    if (inspector.error !== undefined) return inspector.error
    out.push(call.start)
    if (args.length > 0) out.push({ _tag: "tool_call_delta", index: call.start.index, arguments: args })
    out.push(end)
    return undefined
  }

  private delta(
    channel: Channel,
    text: string,
    signature: string | undefined,
    redacted: string | undefined,
    out: Array<StreamEvent>,
  ): Violation {
    const checks = this.checks.length
    if (channel !== this.channel) this.flush(out)
    this.channel = channel
    this.pending += text
    const blocked = this.blockCheck()
    if (blocked !== undefined) {
      // Blocked before the text flushed above was checked: its checks do not run.
      this.checks.length = checks
      return blocked
    }
    if (signature === undefined && redacted === undefined) return this.release(false, out)
    // A signature closes the block: release it whole and keep the signature on its last delta.
    const mark = out.length
    this.release(true, out)
    const last = out.length > mark ? out.pop() : undefined
    const closingText =
      last !== undefined && (last._tag === "text_delta" || last._tag === "reasoning_delta") ? last.text : ""
    out.push(
      channel === "text"
        ? { _tag: "text_delta", text: closingText, ...(signature !== undefined ? { signature } : {}) }
        : {
            _tag: "reasoning_delta",
            text: closingText,
            ...(signature !== undefined ? { signature } : {}),
            ...(redacted !== undefined ? { redacted } : {}),
          },
    )
    return undefined
  }

  private flush(out: Array<StreamEvent>): void {
    // A final release never fails (only holding past `holdMax` does).
    if (this.pending.length > 0) this.release(true, out)
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
  private release(final: boolean, out: Array<StreamEvent>): Violation {
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
          return Scan.violation(
            holding,
            "output",
            `a possible secret ran past ${this.holdMax} characters without ending`,
          )
        }
      }
    }
    if (cut === 0) return undefined
    const head = text.slice(0, cut)
    this.pending = text.slice(cut)
    const masked = Detectors.mask(
      head,
      matches.filter((m) => m.end <= cut),
    )
    out.push(this.channel === "text" ? { _tag: "text_delta", text: masked } : { _tag: "reasoning_delta", text: masked })
    if (this.custom.length > 0) this.checks.push(masked)
    return undefined
  }
}
