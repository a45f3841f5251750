/**
 * Veo's long-running video generation, served by the gateway to Gemini clients:
 *
 * - `POST /v1beta/models/{model}:predictLongRunning` becomes a canonical Chat asking for video
 *   output. The gateway calls its handler at once — keys, the model allow-list, rate limits,
 *   budgets, guardrails and routing decide before anything is created, and their refusals are
 *   the HTTP answer — and answers `{name: "models/{model}/operations/{id}"}` as soon as the
 *   upstream accepted the job. The rest of the call (the provider polling its upstream, then the
 *   video) runs on in the background; its span, usage and spend are recorded when it ends.
 * - `GET /v1beta/models/{model}/operations/{id}` is the operation as Veo shows it: `done: false`,
 *   then `done: true` with `response.generateVideoResponse.generatedSamples[].video.uri`, or with
 *   `error` (a safety-filtered job: no samples and `raiMediaFilteredCount`).
 * - `GET /v1beta/files/video{id}:download?alt=media` (and `/download/v1beta/…`) serves the video
 *   from the gateway: the URI handed to clients names the gateway, never the upstream, and
 *   carries no key. js-genai's `files.download` reads the id from an `https://` URI only.
 *
 * Operations and their videos belong to the credential that created them (a SHA-256 of it):
 * another key's requests find nothing (404). They are kept in this process's memory for 48 hours
 * (as Google keeps videos for two days), up to `maxOperations` and `maxBytes` of video; a restart
 * forgets them.
 */
import { Effect, Stream } from "effect"
import { Collect, Echo, type HandlerFn, type Ingress, ModelId, VideoJobs } from "@sluice/core"
import { type ChatRequest, Errors, type GatewayError, type Parts } from "@sluice/schema"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Request from "./Request.ts"

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export type Store = VideoJobs.Store

/** An operation's name: under the model the client named. */
export const nameOf = (job: VideoJobs.Job): string => `models/${job.model}/operations/${job.id}`

// ---- the wire -------------------------------------------------------------------------------

const requestFields = new Set(["instances", "parameters"])
const instanceFields = new Set(["prompt", "image", "lastFrame", "referenceImages", "video"])

const invalid = (message: string, param?: string) =>
  Effect.fail(new Errors.InvalidRequest({ message, ...(param === undefined ? {} : { param }) }))

/** A predictLongRunning body → the canonical request (the body itself rides along for Veo). */
export const decode = (body: unknown, model: string): Effect.Effect<ChatRequest, GatewayError> =>
  Effect.gen(function* () {
    if (!isObj(body)) return yield* invalid("Invalid JSON payload received. Expected an object.")
    for (const k of Object.keys(body))
      if (!requestFields.has(k))
        return yield* invalid(`Invalid JSON payload received. Unknown name "${Echo.cap(k, 64)}": Cannot find field.`, k)
    const instances = body.instances
    if (!Array.isArray(instances) || instances.length !== 1 || !isObj(instances[0]))
      return yield* invalid("instances must hold exactly one instance (one video per request)", "instances")
    const instance = instances[0]
    for (const k of Object.keys(instance))
      if (!instanceFields.has(k))
        return yield* invalid(
          `Invalid JSON payload received. Unknown name "${Echo.cap(k, 64)}" at 'instances[0]': Cannot find field.`,
          `instances[0].${Echo.cap(k, 64)}`,
        )
    const prompt = instance.prompt
    if (prompt !== undefined && typeof prompt !== "string")
      return yield* invalid("instances[0].prompt must be a string", "instances[0].prompt")
    const parts: Array<Parts.Part> = []
    if (typeof prompt === "string" && prompt !== "") parts.push({ type: "text", text: prompt })
    const image = instance.image
    if (image !== undefined) {
      if (!isObj(image) || typeof image.bytesBase64Encoded !== "string" || typeof image.mimeType !== "string")
        return yield* invalid("instances[0].image must be {bytesBase64Encoded, mimeType}", "instances[0].image")
      parts.push({
        type: "image",
        source: { kind: "base64", mediaType: Echo.cap(image.mimeType, 64), data: image.bytesBase64Encoded },
      })
    }
    if (parts.length === 0) return yield* invalid("instances[0] needs a prompt or an image", "instances[0].prompt")
    const parameters = body.parameters
    if (parameters !== undefined && !isObj(parameters))
      return yield* invalid("parameters must be an object", "parameters")
    const seconds =
      isObj(parameters) && typeof parameters.durationSeconds === "number" && parameters.durationSeconds > 0
        ? parameters.durationSeconds
        : 8
    return {
      model,
      messages: [{ role: "user", parts }],
      stream: true,
      // What a budget holds for the job: one output token per second of video (see Veo.ts).
      maxTokens: Math.ceil(seconds),
      output: { modalities: ["video"] },
      extras: { gemini_veo: { instances, ...(parameters === undefined ? {} : { parameters }) } },
    }
  })

/** The operation as Veo shows it; a video's URI points at this gateway. */
export const toWire = (op: VideoJobs.Job, origin: string, base = "/v1beta"): Json => {
  const name = nameOf(op)
  switch (op.state._tag) {
    case "Running":
      return { name, done: false }
    case "Failed": {
      const e = op.state.error
      if (e._tag === "GuardrailViolation")
        return {
          name,
          done: true,
          response: {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            generateVideoResponse: { raiMediaFilteredCount: 1, raiMediaFilteredReasons: [Echo.capMessage(e.message)] },
          },
        }
      return { name, done: true, error: ErrorCodec.toGemini(e).body.error }
    }
    case "Done":
      return {
        name,
        done: true,
        response: {
          "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
          generateVideoResponse: {
            generatedSamples: op.state.videos.map((v) => ({
              video: { uri: `${origin}${base}/files/${v.fileId}:download?alt=media` },
            })),
          },
        },
      }
  }
}

const host = /^(?:[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/

/**
 * Where clients reach this gateway: the configured public URL, else the request's `Host` (only
 * if it is a plain host[:port]) with `X-Forwarded-Proto` when that says http or https.
 */
export const originOf = (
  headers: Readonly<Record<string, string>>,
  publicUrl: string | undefined,
  tls: boolean,
): string => {
  if (publicUrl !== undefined) return publicUrl
  const h = headers.host ?? ""
  const proto = headers["x-forwarded-proto"]
  const scheme = proto === "https" || proto === "http" ? proto : tls ? "https" : "http"
  return `${scheme}://${host.test(h) ? h : "localhost"}`
}

// ---- routes ---------------------------------------------------------------------------------

export interface Options {
  readonly store: Store
  readonly publicUrl?: string | undefined
  readonly tls: boolean
}

const run = (effect: Effect.Effect<Ingress.Reply, GatewayError>): Effect.Effect<Ingress.Reply> =>
  Effect.catchAll(effect, (e) => {
    const r = ErrorCodec.toGemini(e)
    return Effect.succeed<Ingress.Reply>({ _tag: "Json", status: r.code, body: r.body, headers: r.headers, error: e })
  })

/** Only a caller the middleware lets through learns anything: its answer to a model listing decides. */
const authorize = (request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.asVoid(handler({ _tag: "ListModels", ctx: request.ctx }))

const notFound = (what: string) => new Errors.NotFound({ message: `${what} was not found` })

export const routes = (base: string, options: Options): Array<Ingress.Route> => {
  const { store } = options
  const create: Ingress.Route = {
    method: "POST",
    path: `${base}/models/{model+}:predictLongRunning`,
    handle: (request, handler) =>
      run(
        Effect.gen(function* () {
          const body = yield* request.json
          const model = yield* ModelId.check(Request.modelId(request.params.model ?? ""))
          const chat = yield* decode(body, model)
          const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat })
          const events =
            Collect.eventsOfAnswer(response) ??
            Stream.fail(new Errors.Internal({ message: `unexpected ${response._tag} answer` }))
          const op = store.create(VideoJobs.scopeOf(request.ctx), model)
          if (op === undefined)
            return yield* Effect.fail(
              new Errors.Unavailable({
                message: "too many video operations are kept; try again later",
                retryAfterSeconds: 60,
              }),
            )
          // The job outlives this request: a client that leaves does not stop it.
          yield* Effect.forkDaemon(VideoJobs.finish(store, op, events))
          return {
            _tag: "Json",
            status: 200,
            body: { name: nameOf(op) },
            headers: response.headers,
          } satisfies Ingress.Reply
        }),
      ),
  }
  const get: Ingress.Route = {
    method: "GET",
    path: `${base}/models/{model+}/operations/{id}`,
    handle: (request, handler) =>
      run(
        Effect.gen(function* () {
          yield* authorize(request, handler)
          const id = request.params.id ?? ""
          const op = VideoJobs.validId(id) ? store.get(VideoJobs.scopeOf(request.ctx), id) : undefined
          if (op === undefined || op.model !== Request.modelId(request.params.model ?? ""))
            return yield* Effect.fail(notFound("the operation"))
          return {
            _tag: "Json",
            status: 200,
            body: toWire(op, originOf(request.headers, options.publicUrl, options.tls), base),
          } satisfies Ingress.Reply
        }),
      ),
  }
  const download = (path: string): Ingress.Route => ({
    method: "GET",
    path,
    handle: (request, handler) =>
      run(
        Effect.gen(function* () {
          yield* authorize(request, handler)
          const id = request.params.id ?? ""
          const video = VideoJobs.validId(id) ? store.file(VideoJobs.scopeOf(request.ctx), `video${id}`) : undefined
          if (video === undefined) return yield* Effect.fail(notFound("the file"))
          if (request.query.get("alt") !== "media")
            return yield* Effect.fail(
              new Errors.InvalidRequest({ message: "a generated video is downloaded with alt=media", param: "alt" }),
            )
          return {
            _tag: "Stream",
            status: 200,
            contentType: video.mimeType,
            body: Stream.make(video.bytes),
          } satisfies Ingress.Reply
        }),
      ),
  })
  // Specific paths (`files/video…`) so the generic files routes can live beside them.
  return [
    create,
    get,
    download(`${base}/files/video{id}:download`),
    download(`/download${base}/files/video{id}:download`),
  ]
}
