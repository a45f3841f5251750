/**
 * The request span as Effect sees it while `next` runs: the parent of core's attempt spans, and
 * the target of `Effect.annotateCurrentSpan` from middleware further in. (The verified key's
 * identity does not travel this way: auth notes the principal in `ctx.notes`, typed, and sets
 * `CurrentKey` for the handler inside it.)
 */
import type { Span as OtelSpan } from "@opentelemetry/api"
import { Context, Option, type Tracer } from "effect"

const zeroTrace = "00000000000000000000000000000000"
const zeroSpan = "0000000000000000"

export class RequestSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly parent = Option.none<Tracer.AnySpan>()
  readonly context = Context.empty()
  readonly links: Array<Tracer.SpanLink> = []
  readonly kind = "server" as const
  readonly attributes = new Map<string, unknown>()
  readonly status: Tracer.SpanStatus = { _tag: "Started", startTime: 0n }
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean

  constructor(
    readonly name: string,
    private readonly otel: OtelSpan | undefined,
  ) {
    const sc = otel?.spanContext()
    this.traceId = sc?.traceId ?? zeroTrace
    this.spanId = sc?.spanId ?? zeroSpan
    this.sampled = sc !== undefined && (sc.traceFlags & 1) === 1
  }

  /** The middleware ends the real span itself, when the answer (or stream) is done. */
  end(): void {}

  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
    if (
      this.otel !== undefined &&
      (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
    )
      this.otel.setAttribute(key, value)
  }

  event(name: string, _startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.otel === undefined) return
    const attrs: Record<string, string | number | boolean> = {}
    for (const [k, v] of Object.entries(attributes ?? {}))
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") attrs[k] = v
    this.otel.addEvent(name, attrs)
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    for (const l of links) this.links.push(l)
  }
}
