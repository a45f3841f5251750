/**
 * A third-party Sluice plugin: its own config section (`headers:`) and its own part of a
 * virtual key's policy (a key's `headers:`), each validated by its own schema, loaded by
 * `sluice start` from the config's `plugins:` list — no change to Sluice itself.
 *
 *   plugins: ["./header-plugin/src/plugin.ts"]
 *   headers:
 *     add: { x-served-by: edge-1 }   # added to every answer
 *     require: x-team                # a request without this header is refused (400)
 *   keys:
 *     - { name: search, key: "${SEARCH_KEY}", headers: { x-team: search } }   # added to this key's answers
 */
import { Effect, Schema } from "effect"
import { Config, Handler, KeyPolicy, type Middleware } from "@sluice/core"
import { Errors } from "@sluice/schema"

const HeaderName = Schema.String.pipe(
  Schema.filter((s) => /^[a-z0-9][a-z0-9-]{0,63}$/.test(s) || "expected a lower-case header name"),
)
// Our own values, but bounded and inert all the same: no CR/LF, nothing outside visible ASCII.
const HeaderValue = Schema.String.pipe(
  Schema.filter((s) => /^[\x20-\x7e]{0,256}$/.test(s) || "expected at most 256 visible ASCII characters"),
)

export const Section = Schema.Struct({
  add: Schema.optionalWith(Schema.Record({ key: HeaderName, value: HeaderValue }), { default: () => ({}) }),
  require: Schema.optional(HeaderName),
})
export type Section = typeof Section.Type

/**
 * A virtual key's own headers (`headers:` on a key in `keys:` or through the admin API). Auth
 * decodes it with this schema once, when the key is loaded; the middleware reads it typed.
 */
export const keyHeaders = KeyPolicy.field("headers", Schema.Record({ key: HeaderName, value: HeaderValue }), {
  owner: "headers",
})

export const middleware =
  (section: Section): Middleware.Middleware =>
  (next) =>
  (request) => {
    if (section.require !== undefined && request._tag !== "ListModels" && !(section.require in request.ctx.headers))
      return Effect.fail(new Errors.InvalidRequest({ message: `this gateway requires the ${section.require} header` }))
    const own = keyHeaders.get(request.ctx.principal)
    const add = own === undefined ? section.add : { ...section.add, ...own }
    return Effect.map(next(request), (response) => Handler.withHeaders(response, add))
  }

export const plugin: Middleware.Plugin = {
  name: "headers",
  sections: { headers: Section },
  keyPolicy: [keyHeaders],
  fromConfig: (config) =>
    config.headers === undefined
      ? Effect.succeed(undefined)
      : Effect.map(Config.decodeSection(Section, config.headers, "headers"), (section) => ({
          middleware: middleware(section),
        })),
}
