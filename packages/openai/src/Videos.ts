/**
 * An OpenAI-shaped video front (`/v1/videos`, the Sora API's shape, for Veo and the mock):
 * `POST /v1/videos` (multipart: `prompt`, `model`, `seconds`, `size`, `input_reference` as a file)
 * becomes a canonical chat asking for video output (`output.video`: seconds → durationSeconds,
 * size → aspect ratio and resolution), run through the pipeline at once — its refusals are the
 * answer — and then read on in the background as a job (core `VideoJobs`, the store Veo's
 * operations use). `GET /v1/videos/{id}` is the video object (`in_progress` with progress 0 —
 * Veo reports none — then `completed` or `failed`), `GET /v1/videos/{id}/content` the MP4
 * (`variant=video` only), `DELETE /v1/videos/{id}` forgets it. Jobs belong to the key that
 * created them: another key gets 404.
 */
import { Effect, Stream } from "effect"
import { type ChatRequest, Errors, type GatewayError, type Parts } from "@sluice/schema"
import { Collect, Echo, type HandlerFn, type Ingress, ModelId, VideoJobs } from "@sluice/core"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Multipart from "./Multipart.ts"

type Reply = Ingress.Reply
type Json = Record<string, unknown>

/** An input_reference image is at most this big (the form around it gets a little more). */
export const bodyLimit = 32 * 1024 * 1024

const sizes: Record<string, { aspectRatio: string; resolution: string }> = {
  "1280x720": { aspectRatio: "16:9", resolution: "720p" },
  "720x1280": { aspectRatio: "9:16", resolution: "720p" },
  "1792x1024": { aspectRatio: "16:9", resolution: "1080p" },
  "1024x1792": { aspectRatio: "9:16", resolution: "1080p" },
}
const fields = new Set(["prompt", "model", "seconds", "size", "input_reference"])

const bad = (param: string, message: string) => Effect.fail(new Errors.InvalidRequest({ message, param }))

const decode = (form: FormData): Effect.Effect<{ chat: ChatRequest; meta: Record<string, string> }, GatewayError> =>
  Effect.gen(function* () {
    for (const [k] of form as unknown as Iterable<[string, FormDataEntryValue]>)
      if (!fields.has(k))
        return yield* bad(Echo.cap(k, 64), `Unrecognized request argument supplied: ${Echo.cap(k, 64)}`)
    const prompt = yield* Multipart.text(form, "prompt")
    if (prompt === undefined || prompt === "") return yield* bad("prompt", "Missing required parameter: 'prompt'.")
    const model = (yield* Multipart.text(form, "model")) ?? "sora-2"
    const reason = ModelId.problem(model)
    if (reason !== undefined) return yield* Effect.fail(ModelId.invalid(reason))
    const seconds = (yield* Multipart.text(form, "seconds")) ?? "4"
    if (!/^(4|6|8|12)$/.test(seconds))
      return yield* bad(
        "seconds",
        `Invalid value for 'seconds': ${Echo.cap(seconds)}. Supported values are: '4', '8', '12'.`,
      )
    const size = (yield* Multipart.text(form, "size")) ?? "720x1280"
    const shape = sizes[size]
    if (shape === undefined)
      return yield* bad(
        "size",
        `Invalid value for 'size': ${Echo.cap(size)}. Supported values are: ${Object.keys(sizes).join(", ")}.`,
      )
    const parts: Array<Parts.Part> = [{ type: "text", text: prompt }]
    const reference = Multipart.files(form, "input_reference")[0]
    if (reference !== undefined) {
      const image = yield* Multipart.base64Of(reference)
      if (!image.mediaType.startsWith("image/"))
        return yield* bad("input_reference", "input_reference must be an image (png, jpeg or webp)")
      parts.push({ type: "image", source: { kind: "base64", mediaType: image.mediaType, data: image.data } })
    } else if (form.get("input_reference") !== null)
      return yield* bad("input_reference", "input_reference must be an uploaded image file")
    const durationSeconds = Number(seconds)
    const chat: ChatRequest = {
      model,
      messages: [{ role: "user", parts }],
      stream: true,
      // What a budget holds for the job: one output token per second of video.
      maxTokens: durationSeconds,
      output: { modalities: ["video"], video: { durationSeconds, ...shape } },
    }
    return { chat, meta: { prompt: Echo.cap(prompt, 4000), seconds, size } }
  })

const sec = (ms: number) => Math.floor(ms / 1000)

/** The video object openai-node reads back. */
export const objectOf = (job: VideoJobs.Job): Json => {
  const s = job.state
  const error =
    s._tag === "Failed"
      ? {
          code:
            s.error._tag === "GuardrailViolation"
              ? "content_filter"
              : (ErrorCodec.errorObject(s.error).code ?? "video_generation_failed"),
          message: Echo.capMessage(s.error.message),
        }
      : null
  return {
    id: `video_${job.id}`,
    object: "video",
    model: job.model,
    status: s._tag === "Running" ? "in_progress" : s._tag === "Done" ? "completed" : "failed",
    progress: s._tag === "Running" ? 0 : 100,
    prompt: job.meta.prompt ?? "",
    seconds: job.meta.seconds ?? "4",
    size: job.meta.size ?? "720x1280",
    created_at: sec(job.createdAt),
    completed_at: s._tag === "Running" ? null : sec(s.at),
    expires_at: s._tag === "Done" ? sec(job.createdAt) + 2 * 86_400 : null,
    error,
    remixed_from_video_id: null,
  }
}

const idOf = (param: string | undefined): string | undefined => /^video_([a-f0-9]{24})$/.exec(param ?? "")?.[1]

const notFound = (id: string | undefined) =>
  new Errors.NotFound({ message: `Video with id '${Echo.cap(id ?? "", 64)}' not found.` })

/** Only a caller the middleware lets through learns anything: its answer to a model listing decides. */
const authorize = (request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.asVoid(handler({ _tag: "ListModels", ctx: request.ctx }))

export const routes = (
  answer: (effect: Effect.Effect<Reply, GatewayError>) => Effect.Effect<Reply>,
  store: VideoJobs.Store = VideoJobs.shared,
): Array<Ingress.Route> => {
  const owned = (request: Ingress.IngressRequest, handler: HandlerFn) =>
    Effect.gen(function* () {
      yield* authorize(request, handler)
      const id = idOf(request.params.id)
      const job = id === undefined ? undefined : store.get(VideoJobs.scopeOf(request.ctx), id)
      if (job === undefined) return yield* Effect.fail(notFound(request.params.id))
      return job
    })
  const create: Ingress.Route = {
    method: "POST",
    path: "/v1/videos",
    handle: (request, handler) =>
      answer(
        Effect.gen(function* () {
          const form = yield* Multipart.parse(yield* request.bytes(bodyLimit), request.headers["content-type"])
          const { chat, meta } = yield* decode(form)
          const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat })
          const events =
            Collect.eventsOfAnswer(response) ??
            Stream.fail(new Errors.Internal({ message: `unexpected ${response._tag} answer` }))
          const job = store.create(VideoJobs.scopeOf(request.ctx), chat.model, meta)
          if (job === undefined)
            return yield* Effect.fail(
              new Errors.Unavailable({
                message: "too many video jobs are kept; try again later",
                retryAfterSeconds: 60,
              }),
            )
          // The job outlives this request: a client that leaves does not stop it.
          yield* Effect.forkDaemon(VideoJobs.finish(store, job, events))
          return { _tag: "Json", status: 200, body: objectOf(job), headers: response.headers } satisfies Reply
        }),
      ),
  }
  const retrieve: Ingress.Route = {
    method: "GET",
    path: "/v1/videos/{id}",
    handle: (request, handler) =>
      answer(Effect.map(owned(request, handler), (job): Reply => ({ _tag: "Json", status: 200, body: objectOf(job) }))),
  }
  const content: Ingress.Route = {
    method: "GET",
    path: "/v1/videos/{id}/content",
    handle: (request, handler) =>
      answer(
        Effect.gen(function* () {
          const job = yield* owned(request, handler)
          const variant = request.query.get("variant") ?? "video"
          if (variant !== "video")
            return yield* Effect.fail(new Errors.NotFound({ message: "only the 'video' variant is available" }))
          if (job.state._tag !== "Done")
            return yield* Effect.fail(
              new Errors.InvalidRequest({ message: `Video is not ready yet (status ${objectOf(job).status}).` }),
            )
          const video = job.state.videos[0]!
          return {
            _tag: "Stream",
            status: 200,
            contentType: video.mimeType,
            body: Stream.make(video.bytes),
          } satisfies Reply
        }),
      ),
  }
  const remove: Ingress.Route = {
    method: "DELETE",
    path: "/v1/videos/{id}",
    handle: (request, handler) =>
      answer(
        Effect.gen(function* () {
          const job = yield* owned(request, handler)
          store.delete(job.scope, job.id)
          return {
            _tag: "Json",
            status: 200,
            body: { id: `video_${job.id}`, object: "video.deleted", deleted: true },
          } satisfies Reply
        }),
      ),
  }
  return [create, content, retrieve, remove]
}
