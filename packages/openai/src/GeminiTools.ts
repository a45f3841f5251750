/**
 * Gemini's built-in tools and image options from OpenAI chat clients, as Kong and Google's
 * OpenAI-compatible endpoint take them:
 * - in `tools`, a Gemini tool object beside the function tools: `{"googleSearch": {}}`,
 *   `{"codeExecution": {}}`, `{"urlContext": {}}` (snake_case accepted too);
 * - in `extra_body.google` (or a top-level `google`): `tools` (the same objects) and
 *   `image_config` / `imageConfig` (`aspect_ratio`, `image_size`).
 * They travel in `extras.gemini` (`tools`, `generationConfig.imageConfig`), which only a Gemini
 * upstream sends on; other upstreams have no equivalent and never see them.
 */
import { Either } from "effect"
import type { Errors } from "@sluice/schema"
import { badField, isRecord } from "./Decode.ts"

type Json = Record<string, unknown>

/** The client's spelling → Gemini's. */
const builtins: Record<string, string> = {
  googleSearch: "googleSearch",
  google_search: "googleSearch",
  codeExecution: "codeExecution",
  code_execution: "codeExecution",
  urlContext: "urlContext",
  url_context: "urlContext",
}

/** `{"googleSearch": {...}}` → the Gemini tool, or undefined when `t` is not a built-in. */
const asBuiltin = (t: unknown): Json | undefined => {
  if (!isRecord(t) || t.type !== undefined) return undefined
  const keys = Object.keys(t)
  if (keys.length !== 1) return undefined
  const name = builtins[keys[0]!]
  if (name === undefined) return undefined
  const config = t[keys[0]!]
  return { [name]: isRecord(config) ? config : {} }
}

const google = (body: Json): { value: unknown; path: string } | undefined => {
  if (isRecord(body.extra_body) && body.extra_body.google !== undefined)
    return { value: body.extra_body.google, path: "extra_body.google" }
  if (body.google !== undefined) return { value: body.google, path: "google" }
  return undefined
}

const imageConfigOf = (raw: unknown, path: string): Either.Either<Json | undefined, Errors.InvalidRequest> => {
  if (raw === undefined) return Either.right(undefined)
  if (!isRecord(raw)) return Either.left(badField(path, "must be an object"))
  const out: Json = {}
  for (const [k, v] of Object.entries(raw)) {
    const key = k === "aspect_ratio" ? "aspectRatio" : k === "image_size" ? "imageSize" : k
    if (key !== "aspectRatio" && key !== "imageSize")
      return Either.left(badField(`${path}.${k.slice(0, 40)}`, "is not an image option (aspect_ratio, image_size)"))
    if (typeof v !== "string" || !/^[A-Za-z0-9:._-]{1,16}$/.test(v))
      return Either.left(badField(`${path}.${k}`, 'must be a short string like "16:9" or "2K"'))
    out[key] = v
  }
  return Either.right(out)
}

export interface Split {
  /** The body with the built-in tools taken out of `tools` (what the OpenAI schema decodes). */
  readonly body: unknown
  /** What goes to `extras.gemini`, or undefined when the client asked for none. */
  readonly gemini: Json | undefined
}

/** Take Gemini's built-in tools and image options out of an OpenAI chat body. */
export const split = (body: unknown): Either.Either<Split, Errors.InvalidRequest> =>
  Either.gen(function* () {
    if (!isRecord(body)) return { body, gemini: undefined }
    const tools: Array<Json> = []
    let rest: unknown = body.tools
    if (Array.isArray(body.tools)) {
      const functions: Array<unknown> = []
      for (const t of body.tools) {
        const b = asBuiltin(t)
        if (b === undefined) functions.push(t)
        else tools.push(b)
      }
      rest = functions.length > 0 ? functions : undefined
    }
    let imageConfig: Json | undefined
    const g = google(body)
    if (g !== undefined && isRecord(g.value)) {
      const extra = g.value.tools
      if (extra !== undefined) {
        if (!Array.isArray(extra)) return yield* Either.left(badField(`${g.path}.tools`, "must be an array"))
        for (const [i, t] of extra.entries()) {
          const b = asBuiltin(t)
          if (b === undefined)
            return yield* Either.left(
              badField(`${g.path}.tools[${i}]`, "must be one of googleSearch, codeExecution, urlContext"),
            )
          tools.push(b)
        }
      }
      imageConfig = yield* imageConfigOf(g.value.image_config ?? g.value.imageConfig, `${g.path}.image_config`)
    }
    if (tools.length === 0 && imageConfig === undefined) return { body, gemini: undefined }
    const gemini: Json = {
      ...(tools.length > 0 ? { tools } : {}),
      ...(imageConfig !== undefined ? { generationConfig: { imageConfig } } : {}),
    }
    const out: Json = { ...body }
    if (rest === undefined) delete out.tools
    else out.tools = rest
    return { body: out, gemini }
  })

/** Keys of the `google` object this module reads (besides thinking_config). */
export const googleKeys: ReadonlyArray<string> = ["tools", "image_config", "imageConfig"]
