/**
 * OpenAI Images (`/v1/images/generations`, `/v1/images/edits`) ⇄ canonical. A request becomes a
 * Chat asking for image output (`output.modalities: ["image"]`, `n` as `output.image.count`,
 * `size` reduced to an aspect ratio and size class for Gemini), so it passes auth, limits,
 * budgets, guardrails and routing like any chat. The fields only an OpenAI images upstream
 * understands (size, quality, background, output_format, …) travel unchanged in
 * `extras.openai_images`, which the OpenAI provider sends on as is.
 */
import { Effect, Either } from "effect"
import { type ChatRequest, type ChatResponse, Errors, type GatewayError, type Parts } from "@sluice/schema"
import { Echo, ImageFanout, ModelId } from "@sluice/core"
import * as Multipart from "./Multipart.ts"
import { imageShape } from "./ResponsesCodec.ts"

type Json = Record<string, unknown>

/** What the client asked for that shapes the answer, not the request. */
export interface Answer {
  readonly responseFormat: "b64_json" | "url"
  readonly stream: boolean
  /** `image_generation` or `image_edit` (the stream event prefix). */
  readonly kind: "image_generation" | "image_edit"
}

export interface Decoded {
  readonly chat: ChatRequest
  readonly answer: Answer
}

/** Fields the codec reads itself; every other one goes to an OpenAI upstream unchanged. */
const own = new Set(["model", "prompt", "n", "stream", "response_format", "image", "image[]", "mask"])

/** Fields OpenAI documents for images, kept for an OpenAI upstream (others are refused). */
const known = new Set([
  "size",
  "quality",
  "background",
  "output_format",
  "output_compression",
  "moderation",
  "style",
  "user",
  "partial_images",
  "input_fidelity",
])

const bad = (param: string, message: string) => Effect.fail(new Errors.InvalidRequest({ message, param }))

interface Fields {
  readonly model: unknown
  readonly prompt: unknown
  readonly n: unknown
  readonly stream: unknown
  readonly responseFormat: unknown
  readonly rest: Json
}

const build = (
  f: Fields,
  images: ReadonlyArray<Parts.ImagePart>,
  kind: Answer["kind"],
): Effect.Effect<Decoded, GatewayError> =>
  Effect.gen(function* () {
    if (typeof f.model !== "string" || f.model === "")
      return yield* bad("model", "'model' is required: the gateway routes image requests by model")
    const model = ModelId.check(f.model, "model")
    if (Either.isLeft(model)) return yield* Effect.fail(model.left)
    if (typeof f.prompt !== "string" || f.prompt.trim() === "")
      return yield* bad("prompt", "'prompt' must be a non-empty string")
    if (f.prompt.length > 32000) return yield* bad("prompt", "'prompt' is longer than 32000 characters")
    const n = f.n === undefined || f.n === null ? 1 : Number(f.n)
    if (!Number.isInteger(n) || n < 1 || n > ImageFanout.maxCount)
      return yield* bad("n", `'n' must be an integer from 1 to ${ImageFanout.maxCount}`)
    const responseFormat = f.responseFormat === undefined || f.responseFormat === null ? "b64_json" : f.responseFormat
    if (responseFormat !== "b64_json" && responseFormat !== "url")
      return yield* bad("response_format", "'response_format' must be 'url' or 'b64_json'")
    const stream = f.stream === true || f.stream === "true"
    const images_: Json = {}
    for (const [k, v] of Object.entries(f.rest)) {
      if (own.has(k) || v === undefined || v === null) continue
      if (!known.has(k)) return yield* bad(Echo.cap(k, 64), `'${Echo.cap(k, 64)}' is not an images parameter`)
      images_[k] = v
    }
    const size = images_.size
    if (size !== undefined && (typeof size !== "string" || !/^(auto|\d{2,5}x\d{2,5})$/.test(size)))
      return yield* bad("size", "'size' must be 'auto' or WIDTHxHEIGHT")
    if (responseFormat === "url") images_.response_format = "url"
    const shape = imageShape(typeof size === "string" ? size : undefined)
    const chat: ChatRequest = {
      model: f.model,
      messages: [{ role: "user", parts: [...images, { type: "text", text: f.prompt }] }],
      stream: false,
      output: { modalities: ["image"], image: { ...shape, ...(n > 1 ? { count: n } : {}) } },
      ...(Object.keys(images_).length > 0 ? { extras: { openai_images: images_ } } : {}),
    }
    return { chat, answer: { responseFormat, stream, kind } }
  })

/** A generations body (JSON). */
export const decodeGeneration = (body: unknown): Effect.Effect<Decoded, GatewayError> => {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return bad("", "the request body must be a JSON object")
  const b = body as Json
  return build(
    { model: b.model, prompt: b.prompt, n: b.n, stream: b.stream, responseFormat: b.response_format, rest: b },
    [],
    "image_generation",
  )
}

/** The most input images an edit takes (OpenAI's limit for GPT image models). */
export const maxEditImages = 16

/** An edits body (multipart: `image` / `image[]` files, `mask`, text fields). */
export const decodeEdit = (form: FormData): Effect.Effect<Decoded, GatewayError> =>
  Effect.gen(function* () {
    const files = Multipart.files(form, "image")
    if (files.length === 0) return yield* bad("image", "'image' is required: one or more image files")
    if (files.length > maxEditImages) return yield* bad("image", `at most ${maxEditImages} images may be edited`)
    const images: Array<Parts.ImagePart> = []
    for (const file of files) {
      const { mediaType, data } = yield* Multipart.base64Of(file)
      if (!mediaType.startsWith("image/")) return yield* bad("image", "each 'image' must be a PNG, JPEG or WebP file")
      images.push({ type: "image", source: { kind: "base64", mediaType, data } })
    }
    const rest: Json = {}
    form.forEach((v, k) => {
      if (typeof v === "string") rest[k] = v
    })
    for (const k of ["n", "output_compression", "partial_images"])
      if (typeof rest[k] === "string") rest[k] = Number(rest[k])
    const decoded = yield* build(
      {
        model: rest.model,
        prompt: rest.prompt,
        n: rest.n,
        stream: rest.stream,
        responseFormat: rest.response_format,
        rest,
      },
      images,
      "image_edit",
    )
    const mask = Multipart.files(form, "mask")[0]
    if (mask === undefined) return decoded
    // Only an OpenAI images upstream honours a mask; it travels beside the other OpenAI fields.
    const m = yield* Multipart.base64Of(mask)
    const extras = decoded.chat.extras?.openai_images ?? {}
    return {
      ...decoded,
      chat: {
        ...decoded.chat,
        extras: { openai_images: { ...extras, mask: { mediaType: m.mediaType, data: m.data } } },
      },
    }
  })

/** The drawn images of an answer; none (a refusal, a text-only model) is an error saying so. */
export const imagesOf = (r: ChatResponse): Effect.Effect<Array<Parts.ImagePart>, GatewayError> => {
  const images = r.parts.filter((p): p is Parts.ImagePart => p.type === "image")
  if (images.length > 0) return Effect.succeed(images)
  if (r.finishReason === "content_filter" || r.finishReason === "refusal")
    return Effect.fail(
      new Errors.GuardrailViolation({
        message: "the image model refused the prompt (its safety filter)",
        policy: "upstream",
      }),
    )
  return Effect.fail(
    new Errors.UpstreamError({
      message: "the model answered without an image; route this request to an image model",
      status: 502,
    }),
  )
}

const formatOf = (mediaType: string) => (mediaType.startsWith("image/") ? mediaType.slice(6) : "png")

/** The usage object OpenAI images answers carry. */
const usageOf = (r: ChatResponse) => ({
  input_tokens: r.usage.inputTokens,
  input_tokens_details: { image_tokens: 0, text_tokens: r.usage.inputTokens },
  output_tokens: r.usage.outputTokens,
  total_tokens: r.usage.inputTokens + r.usage.outputTokens,
})

/** One image as an `ImagesResponse` data entry in the asked format (a data: URL stands in for `url`). */
const datum = (p: Parts.ImagePart, answer: Answer): Json => {
  if (p.source.kind === "url") return { url: p.source.url }
  if (answer.responseFormat === "url") return { url: `data:${p.source.mediaType};base64,${p.source.data}` }
  return { b64_json: p.source.data }
}

/** A canonical answer → `ImagesResponse`. */
export const encode = (r: ChatResponse, images: ReadonlyArray<Parts.ImagePart>, answer: Answer): Json => {
  const first = images[0]!
  const out: Json = { created: r.created, data: images.map((p) => datum(p, answer)) }
  if (first.source.kind === "base64") out.output_format = formatOf(first.source.mediaType)
  out.usage = usageOf(r)
  return out
}

/** The answer as the SSE events of a streamed request: one `…completed` per image (no partials). */
export const encodeEvents = (r: ChatResponse, images: ReadonlyArray<Parts.ImagePart>, answer: Answer): Array<Json> =>
  images.map((p) => ({
    type: `${answer.kind}.completed`,
    ...(p.source.kind === "base64"
      ? { b64_json: p.source.data, output_format: formatOf(p.source.mediaType) }
      : { url: p.source.url }),
    created_at: r.created,
    background: "opaque",
    quality: "auto",
    size: "auto",
    usage: usageOf(r),
  }))
