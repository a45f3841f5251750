/**
 * Canonical image requests to an OpenAI images upstream (`/images/generations`, or
 * `/images/edits` when the prompt carries images): what an OpenAI images client sent rides in
 * `extras.openai_images` and goes on as is; a request from another format (a Gemini client
 * asking an image model for IMAGE output) is translated: aspect ratio → size, size class →
 * quality, the prompt's text and images → prompt and image files.
 */
import { Effect } from "effect"
import { type ChatRequest, type ChatResponse, Parts, type Usage } from "@sluice/schema"
import { Wildcard } from "@sluice/core"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** Models served through the images endpoints unless a provider's `imageModels` says otherwise. */
export const defaultImageModels: ReadonlyArray<string> = ["gpt-image-*", "dall-e-*", "chatgpt-image-*"]

/** True when this request should go to the images endpoints of an OpenAI-format upstream. */
export const isImageRequest = (chat: ChatRequest, patterns: ReadonlyArray<string>): boolean =>
  chat.output?.modalities?.includes("image") === true && patterns.some((p) => Wildcard.matches(p, chat.model))

const sizeFor = (aspectRatio: string | undefined): string | undefined => {
  if (aspectRatio === undefined) return undefined
  const [w, h] = aspectRatio.split(":").map(Number) as [number, number]
  if (!(w > 0 && h > 0)) return undefined
  return w === h ? "1024x1024" : w > h ? "1536x1024" : "1024x1536"
}

const lastUser = (chat: ChatRequest) => {
  for (let i = chat.messages.length - 1; i >= 0; i--) if (chat.messages[i]!.role === "user") return chat.messages[i]!
  return undefined
}

export type Body = { readonly _tag: "Json"; readonly body: Json } | { readonly _tag: "Form"; readonly form: FormData }

const extOf = (mediaType: string) => (mediaType === "image/jpeg" ? "jpg" : mediaType.replace(/^image\//, ""))

const fileOf = (mediaType: string, data: string, name: string): Blob & { name?: string } =>
  new File([Buffer.from(data, "base64")], `${name}.${extOf(mediaType)}`, { type: mediaType })

/** The upstream call for a canonical image request. */
export const bodyOf = (chat: ChatRequest): Body => {
  const turn = lastUser(chat)
  const prompt = [
    ...chat.messages
      .filter((m) => m.role === "system")
      .map((m) => Parts.textOf(m.parts))
      .filter((t) => t !== ""),
    turn === undefined ? "" : Parts.textOf(turn.parts),
  ]
    .filter((t) => t !== "")
    .join("\n\n")
  const images = (turn?.parts ?? []).filter(
    (p): p is Parts.ImagePart => p.type === "image" && p.source.kind === "base64",
  )
  const given: Json = { ...(chat.extras?.openai_images ?? {}) }
  const mask = given.mask
  delete given.mask
  const fields: Json = { model: chat.model, prompt }
  const count = chat.output?.image?.count
  if (count !== undefined && count > 1) fields.n = count
  const size = sizeFor(chat.output?.image?.aspectRatio)
  if (given.size === undefined && size !== undefined) fields.size = size
  const cls = chat.output?.image?.size
  if (given.quality === undefined && (cls === "2K" || cls === "4K")) fields.quality = "high"
  Object.assign(fields, given)
  if (images.length === 0) return { _tag: "Json", body: fields }
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) form.append(k, typeof v === "string" ? v : JSON.stringify(v))
  images.forEach((p, i) => {
    if (p.source.kind === "base64") form.append("image[]", fileOf(p.source.mediaType, p.source.data, `image${i}`))
  })
  if (isObj(mask) && typeof mask.mediaType === "string" && typeof mask.data === "string")
    form.append("mask", fileOf(mask.mediaType, mask.data, "mask"))
  return { _tag: "Form", form }
}

const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

/** An `ImagesResponse` → a canonical answer: one image part per `data` entry. */
export const decode = (body: unknown, model: string): ChatResponse | undefined => {
  if (!isObj(body) || !Array.isArray(body.data)) return undefined
  const format = typeof body.output_format === "string" ? body.output_format : "png"
  const mediaType = `image/${format === "jpg" ? "jpeg" : format}`
  const parts: Array<Parts.Part> = []
  for (const d of body.data) {
    if (!isObj(d)) continue
    if (typeof d.b64_json === "string")
      parts.push({ type: "image", source: { kind: "base64", mediaType, data: d.b64_json } })
    else if (typeof d.url === "string") parts.push({ type: "image", source: { kind: "url", url: d.url } })
  }
  const u = isObj(body.usage) ? body.usage : {}
  const usage: Usage = { inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens) }
  const created = typeof body.created === "number" ? body.created : Math.floor(Date.now() / 1000)
  return { id: `img-${created}-${crypto.randomUUID().slice(0, 8)}`, model, parts, finishReason: "stop", usage, created }
}

/**
 * A form as multipart bytes, encoded by the platform's own `Response` (the HTTP client's
 * undici may be another copy that does not take this runtime's FormData).
 */
export const encodeForm = (form: FormData): Effect.Effect<{ bytes: Uint8Array; contentType: string }> =>
  Effect.promise(async () => {
    const r = new Response(form)
    return {
      bytes: new Uint8Array(await r.arrayBuffer()),
      contentType: r.headers.get("content-type") ?? "multipart/form-data",
    }
  })
