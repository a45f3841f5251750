/**
 * Requests the server answered without reaching the handler — refused on their headers (no key),
 * or bodies that did not decode (bad JSON, a field out of range, over the size limit) — are
 * counted and logged like every other response, with every caller-given field capped.
 */
import type { Attributes } from "@opentelemetry/api"
import type { Ingress } from "@sluice/core"
import type { AccessLogOptions } from "./Middleware.ts"
import type { Instruments } from "./Metrics.ts"
import * as Labels from "./Labels.ts"

export interface Options {
  readonly metrics?: Instruments | undefined
  readonly accessLog?: AccessLogOptions | undefined
}

export const observer = (options: Options): ((refused: Ingress.Refused) => void) | undefined => {
  const { metrics, accessLog } = options
  if (metrics === undefined && accessLog === undefined) return undefined
  return (r) => {
    const latencyMs = Date.now() - r.ctx.startedAt
    const type = r.error?._tag ?? "Refused"
    if (metrics !== undefined) {
      // Nothing about the request was decoded: one bounded series per error type.
      const attrs: Attributes = { "gen_ai.operation.name": Labels.other }
      metrics.requests.add(1, attrs)
      metrics.duration.record(latencyMs / 1000, attrs)
      if (r.status >= 400) metrics.errors.add(1, { ...attrs, "error.type": type })
    }
    if (accessLog !== undefined) {
      const line: Record<string, unknown> = {
        time: new Date().toISOString(),
        type: "access",
        id: r.ctx.id,
        key: null,
        ingress: r.ctx.ingress,
        operation: null,
        method: r.method,
        path: Labels.cap(r.path, Labels.maxId),
        model: null,
        status: r.status,
        latency_ms: latencyMs,
      }
      const agent = r.ctx.headers["user-agent"]
      if (agent !== undefined) line.user_agent = Labels.cap(agent, Labels.maxId)
      if (r.status >= 400) line.error = { type, message: Labels.cap(r.error?.message ?? "refused", Labels.maxMessage) }
      accessLog.write(JSON.stringify(line))
    }
  }
}
