/**
 * Veo on the mock Gemini API, written by hand from Google's video-generation guide and js-genai's
 * converters (shared/WIRE-MEDIA §4.1): `POST /v1beta/models/{veo}:predictLongRunning` answers
 * `{name: "models/{veo}/operations/{id}"}`; `GET /v1beta/{name}` is `done: false` until it was
 * polled `pollsUntilDone` times, then `done: true` with
 * `response.generateVideoResponse.generatedSamples[0].video.uri` on the files endpoint;
 * `GET /v1beta/files/{id}:download?alt=media` (key required) redirects to a signed media URL on
 * the same host, which serves the MP4 (and records whether a key came along: it must not).
 *
 * Strict as Veo is on the Developer API: unknown fields, more than one instance, an image as
 * `inlineData`, `durationSeconds` as a string or outside 4/6/8 (8 with 1080p or 4k), unknown
 * aspect ratios or resolutions, and the Vertex-only parameters (`seed`, `fps`, `generateAudio`,
 * `outputGcsUri`, …) are 400s. A prompt containing `unsafe` ends safety-filtered (no samples),
 * one containing `fail-job` ends with an operation error.
 */
import { createHash, randomBytes } from "node:crypto"
import type * as Http from "node:http"
import type * as MockUpstream from "../MockUpstream.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export interface Options {
  /** The key callers must send (x-goog-api-key or ?key=); undefined accepts any. */
  readonly apiKey?: string
  /** Polls answered `done: false` before the operation is done (default 2). */
  readonly pollsUntilDone?: number
}

export interface Veo {
  /** predictLongRunning bodies received, in order. */
  readonly bodies: Array<Json>
  /** Requests that reached the signed media URL, and whether each carried a key. */
  readonly mediaFetches: Array<{ readonly id: string; readonly withKey: boolean }>
  /** Operation polls received. */
  readonly polls: () => number
}

/** The MP4 this mock makes for a prompt: `ftyp`, `moov`/`mvhd` (8 s), and the prompt's hash in `free`. */
export const videoFor = (prompt: string): Buffer => {
  const box = (type: string, payload: Buffer) => {
    const h = Buffer.alloc(8)
    h.writeUInt32BE(8 + payload.length, 0)
    h.write(type, 4, "ascii")
    return Buffer.concat([h, payload])
  }
  const mvhd = Buffer.alloc(100)
  mvhd.writeUInt32BE(600, 12)
  mvhd.writeUInt32BE(4800, 16)
  mvhd.writeUInt32BE(0x00010000, 20)
  mvhd.writeUInt16BE(0x0100, 24)
  mvhd.writeUInt32BE(0x00010000, 36)
  mvhd.writeUInt32BE(0x00010000, 52)
  mvhd.writeUInt32BE(0x40000000, 68)
  mvhd.writeUInt32BE(1, 96)
  return Buffer.concat([
    box("ftyp", Buffer.concat([Buffer.from("isom"), Buffer.from([0, 0, 2, 0]), Buffer.from("isomiso2avc1mp41")])),
    box("moov", box("mvhd", mvhd)),
    box("free", createHash("sha256").update(`veo|${prompt}`).digest()),
  ])
}

const unsupported = new Set([
  "outputGcsUri",
  "fps",
  "seed",
  "pubsubTopic",
  "generateAudio",
  "mask",
  "compressionQuality",
  "labels",
  "resizeMode",
])
const parameterFields = new Set([
  "sampleCount",
  "durationSeconds",
  "aspectRatio",
  "resolution",
  "personGeneration",
  "negativePrompt",
  "enhancePrompt",
])
const instanceFields = new Set(["prompt", "image", "lastFrame", "referenceImages", "video"])

class Reject extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

const statusName: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  500: "INTERNAL",
}

const send = (res: Http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" })
  res.end(JSON.stringify(body, null, 2))
}

const check = (body: unknown): { prompt: string; parameters: Json } => {
  if (!isObj(body)) throw new Reject(400, "Invalid JSON payload received.")
  for (const k of Object.keys(body))
    if (k !== "instances" && k !== "parameters")
      throw new Reject(400, `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`)
  const instances = body.instances
  if (!Array.isArray(instances) || instances.length === 0) throw new Reject(400, "instances is required.")
  if (instances.length > 1) throw new Reject(400, "Only one instance is supported.")
  const instance = instances[0]
  if (!isObj(instance)) throw new Reject(400, "Invalid value at 'instances[0]'")
  for (const k of Object.keys(instance))
    if (!instanceFields.has(k))
      throw new Reject(400, `Invalid JSON payload received. Unknown name "${k}" at 'instances[0]': Cannot find field.`)
  const prompt = instance.prompt
  if (prompt !== undefined && typeof prompt !== "string")
    throw new Reject(400, "Invalid value at 'instances[0].prompt'")
  const image = instance.image
  if (image !== undefined) {
    if (!isObj(image)) throw new Reject(400, "Invalid value at 'instances[0].image'")
    if (image.inlineData !== undefined) throw new Reject(400, "`inlineData` isn't supported by this model.")
    if (typeof image.bytesBase64Encoded !== "string" || !["image/png", "image/jpeg"].includes(String(image.mimeType)))
      throw new Reject(
        400,
        "Invalid value at 'instances[0].image': bytesBase64Encoded and mimeType (png or jpeg) are required.",
      )
  }
  if ((prompt === undefined || prompt === "") && image === undefined)
    throw new Reject(400, "A prompt or an image is required.")
  const p = body.parameters ?? {}
  if (!isObj(p)) throw new Reject(400, "Invalid value at 'parameters'")
  for (const k of Object.keys(p)) {
    if (unsupported.has(k)) throw new Reject(400, `\`${k}\` isn't supported by this model.`)
    if (!parameterFields.has(k))
      throw new Reject(400, `Invalid JSON payload received. Unknown name "${k}" at 'parameters': Cannot find field.`)
  }
  if (p.durationSeconds !== undefined) {
    if (typeof p.durationSeconds !== "number")
      throw new Reject(400, "Invalid value at 'parameters.duration_seconds' (TYPE_INT32)")
    if (![4, 6, 8].includes(p.durationSeconds))
      throw new Reject(400, `The duration ${p.durationSeconds}s is not supported. Supported durations: 4, 6, 8.`)
  }
  if (p.aspectRatio !== undefined && !["16:9", "9:16"].includes(String(p.aspectRatio)))
    throw new Reject(400, `Aspect ratio ${String(p.aspectRatio)} is not supported.`)
  if (p.resolution !== undefined && !["720p", "1080p", "4k"].includes(String(p.resolution)))
    throw new Reject(400, `Resolution ${String(p.resolution)} is not supported.`)
  if ((p.resolution === "1080p" || p.resolution === "4k") && p.durationSeconds !== undefined && p.durationSeconds !== 8)
    throw new Reject(400, `${String(p.resolution)} requires durationSeconds 8.`)
  if (p.sampleCount !== undefined && p.sampleCount !== 1) throw new Reject(400, "sampleCount must be 1.")
  return { prompt: typeof prompt === "string" ? prompt : "", parameters: p }
}

/** Add Veo's routes to a mock Gemini upstream (they win over its model routes). */
export const install = (upstream: MockUpstream.MockUpstream, options: Options = {}): Veo => {
  const bodies: Array<Json> = []
  const mediaFetches: Array<{ id: string; withKey: boolean }> = []
  const operations = new Map<string, { prompt: string; polls: number; fileId: string }>()
  const files = new Map<string, Buffer>()
  let polls = 0
  const keyOf = (req: MockUpstream.Recorded) =>
    (req.headers["x-goog-api-key"] as string | undefined) ?? req.query.get("key") ?? undefined
  const guarded =
    (f: MockUpstream.Responder): MockUpstream.Responder =>
    async (req, res) => {
      try {
        if (options.apiKey !== undefined && keyOf(req) !== options.apiKey)
          throw new Reject(400, "API key not valid. Please pass a valid API key.")
        await f(req, res)
      } catch (e) {
        if (!(e instanceof Reject)) throw e
        send(res, e.code, { error: { code: e.code, message: e.message, status: statusName[e.code] ?? "UNKNOWN" } })
      }
    }

  upstream.on(
    "POST",
    /^\/v1beta\/models\/[^/]+:predictLongRunning$/,
    guarded((req, res) => {
      const model = /^\/v1beta\/models\/([^/]+):/.exec(req.path)![1]!
      if (!model.startsWith("veo-"))
        throw new Reject(
          404,
          `models/${model} is not found for API version v1beta, or is not supported for predictLongRunning.`,
        )
      const { prompt } = check(req.body)
      bodies.push(req.body as Json)
      const id = randomBytes(6).toString("hex")
      operations.set(id, { prompt, polls: 0, fileId: randomBytes(6).toString("hex") })
      send(res, 200, { name: `models/${model}/operations/${id}` })
    }),
  )
  upstream.on(
    "GET",
    /^\/v1beta\/models\/[^/]+\/operations\/[^/]+$/,
    guarded((req, res) => {
      polls++
      const [, model, id] = /^\/v1beta\/models\/([^/]+)\/operations\/([^/]+)$/.exec(req.path)!
      const op = operations.get(id!)
      if (op === undefined) throw new Reject(404, "Operation not found.")
      const name = `models/${model}/operations/${id}`
      op.polls++
      if (op.polls <= (options.pollsUntilDone ?? 2)) return send(res, 200, { name })
      if (op.prompt.includes("fail-job"))
        return send(res, 200, {
          name,
          done: true,
          error: { code: 13, message: "Video generation failed due to an internal error." },
        })
      const response: Json = {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
      }
      if (op.prompt.includes("unsafe")) {
        response.generateVideoResponse = {
          raiMediaFilteredCount: 1,
          raiMediaFilteredReasons: ["The video was filtered because it may violate our policies."],
        }
      } else {
        files.set(op.fileId, videoFor(op.prompt))
        response.generateVideoResponse = {
          generatedSamples: [{ video: { uri: `${upstream.url}/v1beta/files/${op.fileId}:download?alt=media` } }],
        }
      }
      send(res, 200, { name, done: true, response })
    }),
  )
  upstream.on(
    "GET",
    /^\/v1beta\/files\/[a-z0-9]+:download$/,
    guarded((req, res) => {
      const id = /files\/([a-z0-9]+):download/.exec(req.path)![1]!
      if (req.query.get("alt") !== "media") throw new Reject(400, "alt=media is required to download a file.")
      if (!files.has(id)) throw new Reject(404, `File files/${id} was not found.`)
      res.writeHead(302, { location: `/media/${id}?sig=${createHash("sha256").update(id).digest("hex").slice(0, 16)}` })
      res.end()
    }),
  )
  upstream.on("GET", /^\/media\/[a-z0-9]+$/, (req, res) => {
    const id = req.path.slice("/media/".length)
    mediaFetches.push({ id, withKey: keyOf(req) !== undefined })
    const bytes = files.get(id)
    if (bytes === undefined || req.query.get("sig") !== createHash("sha256").update(id).digest("hex").slice(0, 16)) {
      res.writeHead(403)
      res.end()
      return
    }
    res.writeHead(200, { "content-type": "video/mp4", "content-length": String(bytes.length) })
    res.end(bytes)
  })
  return { bodies, mediaFetches, polls: () => polls }
}
