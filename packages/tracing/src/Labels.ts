/**
 * What a caller sends is unbounded; what the gateway records must not be. Metric labels come
 * from a bounded set the config defines — a `models:` id, a `routes:` pattern, `provider/*` for
 * a configured provider — and everything else is one `other` value, so no caller can add a time
 * series. Text that goes into a log line or a span is capped.
 */
import { type Config, Wildcard } from "@sluice/core"

export const other = "other"

/** Longest model id, target or path kept whole in a log line or span attribute. */
export const maxId = 256
/** Longest error message kept whole in a log line or span status. */
export const maxMessage = 1024

/** `text`, or its first `max` characters and how long it was. */
export const cap = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`

/** The label of a requested model: a bounded set drawn from the config. */
export const modelLabels = (config: Config.GatewayConfig): ((model: string) => string) => {
  const models = new Set(Object.keys(config.models))
  const rules = config.routes.map((r) => ({ match: r.match, test: Wildcard.compile(r.match) }))
  const listed = new Map<string, Set<string>>()
  for (const [name, p] of Object.entries(config.providers)) listed.set(name, new Set(p.models ?? []))
  return (model) => {
    // The Router's order: a route rule, a models: id, then provider/model.
    for (const r of rules) if (r.test(model)) return r.match
    if (models.has(model)) return model
    const slash = model.indexOf("/")
    if (slash > 0) {
      const ids = listed.get(model.slice(0, slash))
      if (ids !== undefined)
        return ids.has(model.slice(slash + 1)) || ids.has(model) ? model : `${model.slice(0, slash)}/*`
    }
    return other
  }
}
