/**
 * Configured secrets never leave the gateway in what an upstream says back. Upstreams echo keys
 * in their error text (Google: "API key not valid: AIza…", OpenAI a masked key), and that text
 * reaches clients, logs and spans. Every provider built by the registry is wrapped so each error
 * it raises has every configured secret — provider keys, deployment keys, `headers:` values and
 * the key of the call itself — and anything key-shaped replaced, whatever the provider type.
 */
import { Effect, Redacted } from "effect"
import type { GatewayError } from "@sluice/schema"
import * as Chunked from "./Chunked.ts"
import type { GatewayConfig } from "./Config.ts"
import type { CallContext, Provider } from "./Provider.ts"

export const placeholder = "[redacted]"

/** Shorter values are not treated as secrets (they would mangle ordinary words). */
const minLength = 6

/** Key shapes of the big providers, masked or not, caught even when they are not configured. */
const shapes =
  /\b(?:sk|pk|xai|gsk|key|sess)-[A-Za-z0-9_*.-]{4,}|\bAIza[0-9A-Za-z_*-]{8,}|\bya29\.[0-9A-Za-z_.-]{8,}|\b[Bb]earer\s+[A-Za-z0-9._~+/*-]{8,}=*/g

/** Every secret the config holds for upstream calls: provider and deployment keys, header values. */
export const ofConfig = (config: GatewayConfig): ReadonlyArray<string> => {
  const out = new Set<string>()
  const add = (s: string | Redacted.Redacted<string> | undefined) => {
    const v = s === undefined ? undefined : Redacted.isRedacted(s) ? Redacted.value(s) : s
    if (v !== undefined && v.length >= minLength) out.add(v)
  }
  for (const p of Object.values(config.providers)) {
    add(p.apiKey)
    // Extra headers are where operators put credentials the provider type does not know about.
    for (const v of Object.values(p.headers ?? {})) add(v)
  }
  for (const m of Object.values(config.models)) {
    add(m.apiKey)
    for (const d of m.deployments ?? []) add(d.apiKey)
  }
  return [...out]
}

/** Each secret as it may appear in text: as is, URL-encoded, JSON-escaped. */
const variants = (secrets: Iterable<string>): ReadonlyArray<string> => {
  const out = new Set<string>()
  for (const s of secrets) {
    if (s.length < minLength) continue
    out.add(s)
    out.add(encodeURIComponent(s))
    out.add(JSON.stringify(s).slice(1, -1))
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length)
}

/** `text` with every secret and every key-shaped token replaced. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(placeholder)
  return out.replace(shapes, placeholder)
}

/** The same error with a scrubbed message (the same object when nothing needed scrubbing). */
export const scrubError = <E extends GatewayError>(error: E, secrets: ReadonlyArray<string>): E => {
  const message = scrub(error.message, secrets)
  if (message === error.message) return error
  const Make = error.constructor as new (props: object) => E
  return new Make({ ...error, message })
}

/** A scrubber over a fixed set of secrets, plus the key a call carries. */
export interface Scrubber {
  readonly secrets: ReadonlyArray<string>
  readonly error: <E extends GatewayError>(error: E, ctx?: CallContext) => E
}

export const scrubber = (secrets: Iterable<string>): Scrubber => {
  const fixed = variants(secrets)
  return {
    secrets: fixed,
    error: (error, ctx) => {
      const key = ctx?.apiKey === undefined ? undefined : Redacted.value(ctx.apiKey)
      // A passthrough call's key is the client's own: scrub it too.
      const all = key === undefined || key.length < minLength ? fixed : [...variants([key]), ...fixed]
      return scrubError(error, all)
    },
  }
}

/** The provider with every error it raises scrubbed, before anyone else sees it. */
export const guard = (provider: Provider, scrub: Scrubber): Provider => ({
  ...provider,
  chat: (request, ctx) => Effect.mapError(provider.chat(request, ctx), (e) => scrub.error(e, ctx)),
  chatStream: (request, ctx) => Chunked.mapError(provider.chatStream(request, ctx), (e) => scrub.error(e, ctx)),
  embed: (request, ctx) => Effect.mapError(provider.embed(request, ctx), (e) => scrub.error(e, ctx)),
  countTokens: (request, ctx) => Effect.mapError(provider.countTokens(request, ctx), (e) => scrub.error(e, ctx)),
  listModels: (ctx) => Effect.mapError(provider.listModels(ctx), (e) => scrub.error(e, ctx)),
})
