/**
 * OpenAI's Images API for the mock OpenAI upstream, written by hand from OpenAI's API reference:
 * `POST /images/generations` (JSON) and `POST /images/edits` (multipart, `image` / `image[]`
 * files, optional `mask`). Strict as OpenAI is: unknown parameters, a missing prompt, sizes and
 * `n` outside what the model takes, `response_format` on a GPT image model, and non-image files
 * are 400s in OpenAI's error shape. GPT image models answer base64 PNGs with token usage;
 * dall-e-3 answers one image (a URL unless `response_format: b64_json`) with a revised prompt.
 * Each image's colour depends on the prompt (and, for edits, on how many images were given).
 */
import { createHash } from "node:crypto"
import type * as Http from "node:http"
import type * as MockUpstream from "../MockUpstream.ts"
import { drawPng } from "./Gemini.ts"

type Json = Record<string, unknown>

const fail = (res: Http.ServerResponse, message: string, param: string | null, code: string | null = null) => {
  res.writeHead(400, { "content-type": "application/json" })
  res.end(JSON.stringify({ error: { message, type: "invalid_request_error", param, code } }))
}

const gptImage = ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"]
const sizes: Record<string, ReadonlyArray<string>> = {
  "gpt-image": ["1024x1024", "1536x1024", "1024x1536", "auto"],
  "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
  "dall-e-2": ["256x256", "512x512", "1024x1024"],
}
const generationParams = new Set([
  "model",
  "prompt",
  "n",
  "size",
  "quality",
  "background",
  "output_format",
  "output_compression",
  "moderation",
  "response_format",
  "style",
  "user",
  "stream",
  "partial_images",
])
const editParams = new Set([...generationParams, "image", "image[]", "mask", "input_fidelity"])

const family = (model: string) => (gptImage.includes(model) ? "gpt-image" : model)

const tokens = (s: string) => Math.ceil(s.length / 4)

interface Checked {
  readonly model: string
  readonly prompt: string
  readonly n: number
}

const check = (res: Http.ServerResponse, body: Json, allowed: ReadonlySet<string>): Checked | undefined => {
  for (const k of Object.keys(body))
    if (!allowed.has(k)) {
      fail(res, `Unknown parameter: '${k}'.`, k, "unknown_parameter")
      return undefined
    }
  const model = typeof body.model === "string" ? body.model : "dall-e-2"
  if (!(family(model) in sizes)) {
    fail(res, `Invalid value: '${model}'. Value must be one of the image models.`, "model", "invalid_value")
    return undefined
  }
  if (typeof body.prompt !== "string" || body.prompt === "") {
    fail(res, "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    return undefined
  }
  const n = body.n === undefined ? 1 : Number(body.n)
  if (!Number.isInteger(n) || n < 1 || n > 10 || (model === "dall-e-3" && n !== 1)) {
    fail(res, `Invalid 'n': ${String(body.n)}.`, "n", "invalid_value")
    return undefined
  }
  if (body.size !== undefined && !sizes[family(model)]!.includes(String(body.size))) {
    fail(
      res,
      `Invalid value: '${String(body.size)}'. Supported values are: ${sizes[family(model)]!.join(", ")}.`,
      "size",
      "invalid_value",
    )
    return undefined
  }
  if (family(model) === "gpt-image" && body.response_format !== undefined) {
    fail(res, "Unknown parameter: 'response_format'.", "response_format", "unknown_parameter")
    return undefined
  }
  if (
    family(model) === "gpt-image" &&
    body.quality !== undefined &&
    !["auto", "high", "medium", "low"].includes(String(body.quality))
  ) {
    fail(res, `Invalid value: '${String(body.quality)}'.`, "quality", "invalid_value")
    return undefined
  }
  return { model, prompt: body.prompt, n }
}

const answer = (res: Http.ServerResponse, body: Json, c: Checked, seed: string) => {
  const data = Array.from({ length: c.n }, (_, i) => drawPng(`${seed}|${i}`).toString("base64"))
  res.writeHead(200, { "content-type": "application/json" })
  if (family(c.model) === "gpt-image") {
    const input = tokens(c.prompt)
    res.end(
      JSON.stringify({
        created: Math.floor(Date.now() / 1000),
        data: data.map((b64_json) => ({ b64_json })),
        background: "opaque",
        output_format: "png",
        quality: typeof body.quality === "string" ? body.quality : "auto",
        size: typeof body.size === "string" ? body.size : "1024x1024",
        usage: {
          input_tokens: input,
          input_tokens_details: { image_tokens: 0, text_tokens: input },
          output_tokens: 272 * c.n,
          total_tokens: input + 272 * c.n,
        },
      }),
    )
    return
  }
  const revised = `${c.prompt} (revised)`
  res.end(
    JSON.stringify({
      created: Math.floor(Date.now() / 1000),
      data: data.map((b64) =>
        body.response_format === "b64_json"
          ? { b64_json: b64, revised_prompt: revised }
          : {
              url: `https://images.example/${createHash("sha256").update(b64).digest("hex").slice(0, 16)}.png`,
              revised_prompt: revised,
            },
      ),
    }),
  )
}

export const generations: MockUpstream.Responder = (req, res) => {
  const body = typeof req.body === "object" && req.body !== null ? (req.body as Json) : {}
  const c = check(res, body, generationParams)
  if (c !== undefined) answer(res, body, c, c.prompt)
}

/** Bodies of the edits received (fields, and each file's type, name and size). */
export const editLog: Array<{ fields: Json; files: Array<{ field: string; type: string; size: number }> }> = []

export const edits: MockUpstream.Responder = async (req, res) => {
  const type = String(req.headers["content-type"] ?? "")
  if (!type.startsWith("multipart/form-data")) return fail(res, "Expected multipart/form-data.", null)
  const form = await new Response(new Uint8Array(req.raw), { headers: { "content-type": type } }).formData()
  const fields: Json = {}
  const files: Array<{ field: string; type: string; size: number; bytes: Buffer }> = []
  for (const [k, v] of form as unknown as Iterable<[string, FormDataEntryValue]>) {
    if (typeof v === "string") fields[k] = v
    else files.push({ field: k, type: v.type, size: v.size, bytes: Buffer.from(await v.arrayBuffer()) })
  }
  editLog.push({ fields, files: files.map(({ field, type, size }) => ({ field, type, size })) })
  const images = files.filter((f) => f.field === "image" || f.field === "image[]")
  if (images.length === 0)
    return fail(res, "Missing required parameter: 'image'.", "image", "missing_required_parameter")
  for (const [i, f] of images.entries()) {
    const png = f.bytes[0] === 0x89 && f.bytes[1] === 0x50
    const jpeg = f.bytes[0] === 0xff && f.bytes[1] === 0xd8
    const webp = f.bytes.subarray(8, 12).toString("ascii") === "WEBP"
    if (!(png || jpeg || webp))
      return fail(
        res,
        `Invalid file 'image[${i}]': unsupported mimetype ('${f.type}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.`,
        `image[${i}]`,
        "unsupported_file",
      )
  }
  for (const k of ["n", "output_compression", "partial_images"])
    if (typeof fields[k] === "string") fields[k] = Number(fields[k])
  const all = {
    ...fields,
    ...(images.length > 0 ? { image: true } : {}),
    ...(files.some((f) => f.field === "mask") ? { mask: true } : {}),
  }
  const c = check(res, all, editParams)
  if (c !== undefined) answer(res, fields, c, `${c.prompt}|${images.length}`)
}
