/**
 * W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/): parse what a client
 * sent so our request span continues its trace, and format ours for the upstream.
 */

export interface SpanContextLike {
  readonly traceId: string
  readonly spanId: string
  readonly traceFlags: number
}

const header = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const zeroTrace = "00000000000000000000000000000000"
const zeroSpan = "0000000000000000"

/**
 * The parent a `traceparent` names, or undefined when it is absent or invalid (the spec says
 * to start a new trace then). Version `ff` is invalid; a version-00 header must have exactly
 * four fields; later versions may append fields, which we ignore.
 */
export const parse = (value: string | undefined): SpanContextLike | undefined => {
  if (value === undefined) return undefined
  const m = header.exec(value.trim())
  if (m === null) return undefined
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string?]
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined
  if (traceId === zeroTrace || spanId === zeroSpan) return undefined
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & 0xff }
}

export const format = (span: SpanContextLike): string =>
  `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, "0")}`
