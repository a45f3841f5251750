/**
 * Long-running video jobs a gateway runs on behalf of its clients (Veo's operations, OpenAI's
 * `/v1/videos`): the job is one canonical call through the pipeline whose answer the gateway
 * keeps reading after it answered the client; the outcome — the videos, or the error — is kept
 * here, owned by the credential that created the job (a SHA-256 of it), for `ttlMs` (48 hours,
 * as Google keeps videos for two days), up to `maxJobs` jobs and `maxBytes` of video. In this
 * process's memory: a restart forgets them and another instance does not know them.
 */
import { createHash, randomBytes } from "node:crypto"
import { Cause, Effect, Option, Redacted, type Stream } from "effect"
import { Errors, type GatewayError, type Parts, type StreamEvent } from "@sluice/schema"
import * as Collect from "./Collect.ts"
import type { RequestContext } from "./Handler.ts"

export interface Video {
  /** `video` + hex: a `[a-z0-9]+` id, as js-genai reads file ids out of URIs. */
  readonly fileId: string
  readonly mimeType: string
  readonly bytes: Uint8Array
}

export type State =
  | { readonly _tag: "Running" }
  | { readonly _tag: "Failed"; readonly error: GatewayError; readonly at: number }
  | { readonly _tag: "Done"; readonly videos: ReadonlyArray<Video>; readonly at: number }

export interface Job {
  /** 24 hex digits. */
  readonly id: string
  readonly scope: string
  /** The model as the client named it. */
  readonly model: string
  readonly createdAt: number
  /** What the creating front wants to show again (prompt, seconds, size). */
  readonly meta: Readonly<Record<string, string>>
  state: State
}

export interface Limits {
  readonly maxJobs: number
  readonly maxBytes: number
  readonly ttlMs: number
}

export const defaultLimits: Limits = { maxJobs: 10_000, maxBytes: 2 * 1024 * 1024 * 1024, ttlMs: 48 * 3600_000 }

export const validId = (id: string): boolean => /^[a-f0-9]{24}$/.test(id)

export class Store {
  private readonly jobs = new Map<string, Job>()
  private readonly files = new Map<string, { readonly scope: string; readonly video: Video }>()
  private bytes = 0

  constructor(
    readonly limits: Limits = defaultLimits,
    private readonly now: () => number = Date.now,
  ) {}

  private forget(job: Job): void {
    this.jobs.delete(job.id)
    if (job.state._tag === "Done")
      for (const v of job.state.videos) {
        this.files.delete(v.fileId)
        this.bytes -= v.bytes.length
      }
  }

  private sweep(): void {
    const cutoff = this.now() - this.limits.ttlMs
    for (const job of this.jobs.values()) {
      if (job.createdAt >= cutoff) break // insertion order is creation order
      this.forget(job)
    }
  }

  create(scope: string, model: string, meta: Readonly<Record<string, string>> = {}): Job | undefined {
    this.sweep()
    if (this.jobs.size >= this.limits.maxJobs) return undefined
    const job: Job = {
      id: randomBytes(12).toString("hex"),
      scope,
      model,
      createdAt: this.now(),
      meta,
      state: { _tag: "Running" },
    }
    this.jobs.set(job.id, job)
    return job
  }

  get(scope: string, id: string): Job | undefined {
    this.sweep()
    const job = this.jobs.get(id)
    return job !== undefined && job.scope === scope ? job : undefined
  }

  /** Forget a job and its videos; false when the caller has no such job. */
  delete(scope: string, id: string): boolean {
    const job = this.get(scope, id)
    if (job === undefined) return false
    this.forget(job)
    return true
  }

  file(scope: string, fileId: string): Video | undefined {
    this.sweep()
    const f = this.files.get(fileId)
    return f !== undefined && f.scope === scope ? f.video : undefined
  }

  fail(job: Job, error: GatewayError): void {
    job.state = { _tag: "Failed", error, at: this.now() }
  }

  complete(job: Job, videos: ReadonlyArray<{ mimeType: string; bytes: Uint8Array }>): void {
    const size = videos.reduce((n, v) => n + v.bytes.length, 0)
    if (this.bytes + size > this.limits.maxBytes) {
      this.fail(job, new Errors.Unavailable({ message: "the gateway's video store is full; try again later" }))
      return
    }
    const kept = videos.map((v) => ({ ...v, fileId: `video${randomBytes(12).toString("hex")}` }))
    if (!this.jobs.has(job.id)) return // deleted while it ran
    for (const v of kept) this.files.set(v.fileId, { scope: job.scope, video: v })
    this.bytes += size
    job.state = { _tag: "Done", videos: kept, at: this.now() }
  }
}

/** The process's store: jobs outlive config reloads, not restarts. */
export const shared = new Store()

/** Whose job: a hash of the caller's credential ("anonymous" without one). */
export const scopeOf = (ctx: RequestContext): string => {
  const key = ctx.credential === undefined ? "" : Redacted.value(ctx.credential)
  return key === "" ? "anonymous" : createHash("sha256").update(key).digest("hex")
}

/** Read the rest of a job's answer (in the background) and keep its outcome. */
export const finish = (store: Store, job: Job, events: Stream.Stream<StreamEvent, GatewayError>): Effect.Effect<void> =>
  Collect.collect(events).pipe(
    Effect.flatMap((r) => {
      const videos = r.parts
        .filter((p): p is Parts.ImagePart => p.type === "image" && p.source.kind === "base64")
        .map((p) => p.source as { mediaType: string; data: string })
        .filter((s) => s.mediaType.startsWith("video/"))
        .map((s) => ({ mimeType: s.mediaType, bytes: new Uint8Array(Buffer.from(s.data, "base64")) }))
      if (videos.length === 0)
        return Effect.fail(new Errors.UpstreamError({ message: "the model answered without a video", status: 502 }))
      return Effect.sync(() => store.complete(job, videos))
    }),
    Effect.catchAllCause((cause) =>
      Effect.sync(() =>
        store.fail(
          job,
          Option.getOrUndefined(Cause.failureOption(cause)) ??
            new Errors.Internal({ message: "the video job stopped" }),
        ),
      ),
    ),
  )
