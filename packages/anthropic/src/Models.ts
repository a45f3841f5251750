/**
 * Canonical model listings ⇄ Anthropic's `/v1/models` shape, with its cursor pagination
 * (`limit`, `after_id`, `before_id`; `has_more`, `first_id`, `last_id`).
 */
import type { ModelInfo } from "@sluice/schema"
import type * as Wire from "./Wire.ts"

const epoch = "1970-01-01T00:00:00Z"

export const infoOf = (m: ModelInfo): Wire.ModelInfo => ({
  type: "model",
  id: m.id,
  display_name: m.displayName ?? m.id,
  created_at: m.created !== undefined ? new Date(m.created * 1000).toISOString() : epoch,
})

/** An upstream Anthropic model as a canonical one, listed as `provider/id`. */
export const fromWire = (provider: string, m: Wire.ModelInfo): ModelInfo => {
  const created = Date.parse(m.created_at)
  return {
    id: `${provider}/${m.id}`,
    provider,
    displayName: m.display_name,
    ...(Number.isNaN(created) ? {} : { created: Math.floor(created / 1000) }),
  }
}

export type PageQuery = { readonly limit?: number; readonly afterId?: string; readonly beforeId?: string }

/** One page of a listing, as Anthropic cuts it. */
export const page = (models: ReadonlyArray<ModelInfo>, query: PageQuery): Wire.ModelList => {
  const all = models.map(infoOf)
  const limit = Math.min(1000, Math.max(1, query.limit ?? 20))
  let slice: Array<Wire.ModelInfo>
  let hasMore: boolean
  if (query.beforeId !== undefined) {
    const end = all.findIndex((m) => m.id === query.beforeId)
    const stop = end === -1 ? 0 : end
    const start = Math.max(0, stop - limit)
    slice = all.slice(start, stop)
    hasMore = start > 0
  } else {
    const after = query.afterId === undefined ? -1 : all.findIndex((m) => m.id === query.afterId)
    const start = query.afterId !== undefined && after === -1 ? all.length : after + 1
    slice = all.slice(start, start + limit)
    hasMore = start + limit < all.length
  }
  return {
    data: slice,
    has_more: hasMore,
    first_id: slice[0]?.id ?? null,
    last_id: slice[slice.length - 1]?.id ?? null,
  }
}
