/**
 * Veo on the Gemini API, provider side: a canonical request for video output becomes
 * `models/{m}:predictLongRunning`; the operation it names is polled (`GET /{operation name}`)
 * until it is done, and the video is downloaded through the files endpoint with the provider's
 * key (`files/{id}:download?alt=media`, a redirect followed without the key). The answer is one
 * canonical part of type `video/mp4`, so the whole job is one call of the pipeline: keys,
 * limits, budgets and the request's span cover it from creation to the video.
 *
 * Usage: Veo reports no tokens, so a finished job counts one output token per second of video
 * made (`durationSeconds`, 8 when unset, times the samples): price Veo models in `prices:` with
 * `output` = USD per million seconds.
 */
import { type ChatRequest, Errors, Parts } from "@sluice/schema"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** True when the request asks for video output. */
export const wantsVideo = (chat: ChatRequest): boolean => chat.output?.modalities?.includes("video") === true

/** The predictLongRunning body: what a Gemini client sent (`extras.gemini_veo`), else built from the prompt. */
export const body = (chat: ChatRequest): Json => {
  const given = chat.extras?.gemini_veo
  if (isObj(given) && Array.isArray(given.instances)) {
    const out: Json = { instances: given.instances }
    if (isObj(given.parameters)) out.parameters = given.parameters
    return out
  }
  const turn = [...chat.messages].reverse().find((m) => m.role === "user")
  const instance: Json = { prompt: turn === undefined ? "" : Parts.textOf(turn.parts) }
  const image = turn?.parts.find(
    (p): p is Parts.ImagePart =>
      p.type === "image" && p.source.kind === "base64" && p.source.mediaType.startsWith("image/"),
  )
  if (image !== undefined && image.source.kind === "base64")
    instance.image = { bytesBase64Encoded: image.source.data, mimeType: image.source.mediaType }
  const parameters: Json = { sampleCount: 1 }
  const v = chat.output?.video
  if (v?.durationSeconds !== undefined) parameters.durationSeconds = v.durationSeconds
  if (v?.aspectRatio !== undefined) parameters.aspectRatio = v.aspectRatio
  if (v?.resolution !== undefined) parameters.resolution = v.resolution
  return { instances: [instance], parameters }
}

/** An operation name as Veo issues it; anything else is not put into a URL. */
export const operationName = /^models\/[A-Za-z0-9._-]{1,128}\/operations\/[A-Za-z0-9_-]{1,128}$/

/** The name as a URL path, each segment encoded. */
export const operationPath = (name: string): string => name.split("/").map(encodeURIComponent).join("/")

/** Seconds of video a finished job made (its usage, see above). */
export const secondsOf = (request: Json, samples: number): number => {
  const p = isObj(request.parameters) ? request.parameters : {}
  const d = typeof p.durationSeconds === "number" && p.durationSeconds > 0 ? p.durationSeconds : 8
  return d * Math.max(1, samples)
}

export type Sample =
  | { readonly _tag: "Bytes"; readonly data: string; readonly mimeType: string }
  | { readonly _tag: "File"; readonly id: string }

export type Outcome =
  | { readonly _tag: "Pending" }
  | { readonly _tag: "Failed"; readonly code: number; readonly message: string }
  | { readonly _tag: "Filtered"; readonly reasons: ReadonlyArray<string> }
  | { readonly _tag: "Done"; readonly samples: ReadonlyArray<Sample> }

const grpcToHttp: Record<number, number> = {
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
}

/** Read a polled operation. */
export const outcome = (op: unknown): Outcome | undefined => {
  if (!isObj(op)) return undefined
  if (op.done !== true) return { _tag: "Pending" }
  if (isObj(op.error)) {
    const raw = typeof op.error.code === "number" ? op.error.code : 13
    // An operation's error is a google.rpc.Status: its code is gRPC's, not HTTP's.
    const code = raw >= 100 ? raw : (grpcToHttp[raw] ?? 500)
    const message = typeof op.error.message === "string" ? op.error.message : "the video operation failed"
    return { _tag: "Failed", code, message }
  }
  const response = isObj(op.response) ? op.response : {}
  const gvr = isObj(response.generateVideoResponse) ? response.generateVideoResponse : response
  const list = Array.isArray(gvr.generatedSamples)
    ? gvr.generatedSamples
    : Array.isArray(gvr.generatedVideos)
      ? gvr.generatedVideos
      : []
  const samples: Array<Sample> = []
  for (const s of list) {
    const v = isObj(s) && isObj(s.video) ? s.video : undefined
    if (v === undefined) continue
    const bytes = v.encodedVideo ?? v.bytesBase64Encoded
    if (typeof bytes === "string")
      samples.push({ _tag: "Bytes", data: bytes, mimeType: typeof v.encoding === "string" ? v.encoding : "video/mp4" })
    else if (typeof v.uri === "string") {
      // As js-genai does: the first [a-z0-9]+ run after `files/` is the file id.
      const id = /files\/([a-z0-9]+)/.exec(v.uri)?.[1]
      if (id !== undefined) samples.push({ _tag: "File", id })
    }
  }
  if (samples.length === 0) {
    const reasons = Array.isArray(gvr.raiMediaFilteredReasons)
      ? gvr.raiMediaFilteredReasons.filter((r): r is string => typeof r === "string")
      : []
    return { _tag: "Filtered", reasons }
  }
  return { _tag: "Done", samples }
}

/** A safety-filtered job, as the client's format renders a policy refusal. */
export const filtered = (reasons: ReadonlyArray<string>) =>
  new Errors.GuardrailViolation({
    message: `the provider's safety filters withheld the video${reasons.length > 0 ? ` (${reasons.length} reason(s) given)` : ""}`,
    policy: "provider-safety",
  })
