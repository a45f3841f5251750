/**
 * The Gemini Files API on the gateway's file store, as @google/genai calls it:
 *
 * - `POST /upload/v1beta/files` with `X-Goog-Upload-Protocol: resumable` and
 *   `X-Goog-Upload-Command: start` (the size and type in `X-Goog-Upload-Header-Content-Length`
 *   / `-Content-Type`, metadata in `{"file":{…}}`) answers an empty 200 with `x-goog-upload-url`;
 *   the bytes then go to that URL in chunks (`X-Goog-Upload-Command: upload`, the last one
 *   `upload, finalize`, each at its `X-Goog-Upload-Offset`), each answered with
 *   `x-goog-upload-status` (`active`, then `final` with `{"file": File}`).
 * - `GET /v1beta/files/{id}`, `GET /v1beta/files?pageSize=&pageToken=`, `DELETE /v1beta/files/{id}`.
 * - `GET /v1beta/files/{id}:download?alt=media` (and `/download/v1beta/…`): generated files only
 *   (batch results), as Google does.
 *
 * Every path is also served under the Gemini ingress's path prefix, and the upload URL keeps it.
 * An upload session belongs to the key that started it: chunks sent with another key find nothing.
 */
import { Effect, Option, Stream } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Echo, type HandlerFn, type Ingress } from "@sluice/core"
import { Ingress as GeminiIngress } from "@sluice/gemini"
import { orFail, tooLarge } from "./Errors.ts"
import { type FileRecord, type FileStore, isId } from "./FileStore.ts"
import { authorize } from "./Owner.ts"
import { type Json, isObj, json } from "./Json.ts"

/** Where clients reach the gateway, from a request's headers (the Gemini ingress's `publicUrl`, else its Host). */
export type Origin = (headers: Readonly<Record<string, string>>) => string

/** js-genai sends chunks of 8 MiB; Google's upload server advertises the same granularity. */
export const chunkGranularity = 8 * 1024 * 1024

const run = (effect: Effect.Effect<Ingress.Reply, GatewayError>): Effect.Effect<Ingress.Reply> =>
  Effect.catchAll(effect, (e) => Effect.succeed(GeminiIngress.error(e)))

const empty = (headers: Readonly<Record<string, string>>): Ingress.Reply => ({
  _tag: "Stream",
  status: 200,
  contentType: "text/plain; charset=utf-8",
  body: Stream.empty,
  headers,
})

const rfc3339 = (ms: number) => new Date(ms).toISOString()

/** Where a file is found by URI and downloaded: the gateway's origin plus the ingress prefix. */
const baseOf = (request: Ingress.IngressRequest, at: At) => `${at.origin(request.headers)}${at.prefix}`

/** Where the routes are mounted. */
export interface At {
  readonly prefix: string
  readonly origin: Origin
}

/** A stored file in Google's File shape. */
export const toGemini = (f: FileRecord, base: string): Json => {
  const out: Json = {
    name: `files/${f.id}`,
    displayName: f.displayName,
    mimeType: f.mimeType,
    sizeBytes: String(f.bytes),
    createTime: rfc3339(f.createdAt),
    updateTime: rfc3339(f.createdAt),
    expirationTime: rfc3339(f.expiresAt),
    sha256Hash: f.sha256,
    uri: `${base}/v1beta/files/${f.id}`,
    state: "ACTIVE",
    source: f.source,
  }
  if (f.source === "GENERATED") out.downloadUri = `${base}/download/v1beta/files/${f.id}:download?alt=media`
  return out
}

const notFound = (id: string) =>
  new Errors.NotFound({
    message: isId(id)
      ? `Requested entity was not found: files/${id}`
      : "Requested entity was not found (a file name is files/ and lowercase letters and digits)",
  })

/** A MIME type safe to store and to send back as a Content-Type. */
export const mimeRule =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:\s*;[ -~]{0,200})?$/

const header = (request: Ingress.IngressRequest, name: string) => request.headers[name]?.trim()

const badHeader = (name: string, message: string) => new Errors.InvalidRequest({ message, param: name })

/** `POST /upload/v1beta/files`: a new resumable upload, or a chunk of one (`?upload_id=`). */
const upload = (store: FileStore, at: At) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const uploadId = request.query.get("upload_id")
      if (uploadId !== null) return yield* chunk(store, request, owner, uploadId, at)
      const protocol = header(request, "x-goog-upload-protocol")?.toLowerCase()
      if (protocol !== "resumable")
        return yield* Effect.fail(
          badHeader(
            "X-Goog-Upload-Protocol",
            protocol === undefined
              ? "X-Goog-Upload-Protocol is missing: this gateway takes resumable uploads (X-Goog-Upload-Protocol: resumable)"
              : `X-Goog-Upload-Protocol ${Echo.cap(protocol, 32)} is not served: this gateway takes resumable uploads`,
          ),
        )
      const command = header(request, "x-goog-upload-command")?.toLowerCase()
      if (command !== "start")
        return yield* Effect.fail(
          badHeader(
            "X-Goog-Upload-Command",
            "a new upload starts with X-Goog-Upload-Command: start (chunks go to the x-goog-upload-url it answers)",
          ),
        )
      // The start request's body (`{"file":{…}}`) is optional: the headers say what matters.
      const body = yield* request.json.pipe(Effect.orElseSucceed((): unknown => ({})))
      const file = isObj(body) && isObj(body.file) ? body.file : {}
      const lengthText =
        header(request, "x-goog-upload-header-content-length") ??
        (typeof file.sizeBytes === "string" || typeof file.sizeBytes === "number" ? String(file.sizeBytes) : undefined)
      if (lengthText === undefined || !/^\d{1,15}$/.test(lengthText))
        return yield* Effect.fail(
          badHeader(
            "X-Goog-Upload-Header-Content-Length",
            "X-Goog-Upload-Header-Content-Length must give the file's size in bytes",
          ),
        )
      const total = Number(lengthText)
      if (total > store.maxBytes) return yield* Effect.fail(tooLarge(total, store.maxBytes))
      const mimeType =
        header(request, "x-goog-upload-header-content-type") ??
        (typeof file.mimeType === "string" ? file.mimeType : undefined)
      if (mimeType === undefined || mimeType === "")
        return yield* Effect.fail(
          badHeader(
            "file.mimeType",
            "the file's MIME type is missing (X-Goog-Upload-Header-Content-Type or file.mimeType)",
          ),
        )
      if (!mimeRule.test(mimeType))
        return yield* Effect.fail(badHeader("file.mimeType", `invalid MIME type ${Echo.cap(mimeType, 64)}`))
      const displayName =
        typeof file.displayName === "string" ? file.displayName : (header(request, "x-goog-upload-file-name") ?? "")
      if (displayName.length > 512)
        return yield* Effect.fail(badHeader("file.displayName", "file.displayName is longer than 512 characters"))
      const session = yield* orFail(
        store.startUpload({ owner, displayName, mimeType, purpose: "user_data", source: "UPLOADED" }, total),
      )
      const url = `${baseOf(request, at)}/upload/v1beta/files?upload_id=${session.id}&upload_protocol=resumable`
      return empty({
        "x-goog-upload-status": "active",
        "x-goog-upload-url": url,
        "x-goog-upload-control-url": url,
        "x-goog-upload-chunk-granularity": String(chunkGranularity),
        "access-control-expose-headers": "x-goog-upload-url, x-goog-upload-status",
      })
    }),
  )

const chunk = (store: FileStore, request: Ingress.IngressRequest, owner: string, uploadId: string, at: At) =>
  Effect.gen(function* () {
    const session = isId(uploadId) ? yield* orFail(store.uploadOf(owner, uploadId)) : undefined
    if (session === undefined)
      return yield* Effect.fail(new Errors.NotFound({ message: "no such upload session (upload_id)" }))
    const commands = (header(request, "x-goog-upload-command") ?? "")
      .toLowerCase()
      .split(",")
      .map((c) => c.trim())
      .filter((c) => c !== "")
    const known = new Set(["upload", "finalize", "query", "cancel"])
    if (commands.length === 0 || commands.some((c) => !known.has(c)))
      return yield* Effect.fail(
        badHeader(
          "X-Goog-Upload-Command",
          'X-Goog-Upload-Command must be upload, finalize, "upload, finalize", query or cancel',
        ),
      )
    const status = (s: string, received: number) => ({
      "x-goog-upload-status": s,
      "x-goog-upload-size-received": String(received),
    })
    if (commands.includes("query")) return empty(status("active", session.received))
    let current = session
    if (commands.includes("upload")) {
      const offsetText = header(request, "x-goog-upload-offset")
      if (offsetText === undefined || !/^\d{1,15}$/.test(offsetText))
        return yield* Effect.fail(
          badHeader("X-Goog-Upload-Offset", "X-Goog-Upload-Offset must give the chunk's byte offset"),
        )
      const remaining = session.total - session.received
      const bytes = yield* request.bytes(Math.max(remaining, 0)).pipe(
        Effect.catchTag("PayloadTooLarge", () =>
          Effect.fail(
            new Errors.InvalidRequest({
              message: `the chunk runs past the ${session.total} bytes announced at the upload's start`,
            }),
          ),
        ),
      )
      current = yield* orFail(store.append(owner, uploadId, Number(offsetText), bytes))
    }
    if (!commands.includes("finalize")) return empty(status("active", current.received))
    const file = yield* orFail(store.finish(owner, uploadId))
    return json({ file: toGemini(file, baseOf(request, at)) }, status("final", file.bytes))
  })

const fileId = (request: Ingress.IngressRequest) => request.params.id ?? ""

/** The caller's file named by the path, or NotFound (another key's file is not found either). */
const ownedFile = (store: FileStore, request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.gen(function* () {
    const owner = yield* authorize(request, handler)
    const id = fileId(request)
    const file = yield* orFail(store.get(owner, id))
    if (file === undefined) return yield* Effect.fail(notFound(id))
    return { owner, id, file }
  })

const getFile = (store: FileStore, at: At) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { file } = yield* ownedFile(store, request, handler)
      return json(toGemini(file, baseOf(request, at)))
    }),
  )

const pageToken = (offset: number) => Buffer.from(`offset:${offset}`).toString("base64url")
const offsetOf = (token: string): number | undefined => {
  const m = /^offset:(\d{1,9})$/.exec(Buffer.from(token, "base64url").toString("utf8"))
  return m ? Number(m[1]) : undefined
}

/** `pageSize` (1–100, default 10) and `pageToken` of a Google list call. */
export const page = (query: URLSearchParams, defaultSize = 10, maxSize = 100) =>
  Effect.gen(function* () {
    const sizeText = query.get("pageSize")
    const size = sizeText === null || sizeText === "" ? defaultSize : Number(sizeText)
    if (!Number.isInteger(size) || size < 0)
      return yield* Effect.fail(
        new Errors.InvalidRequest({ message: "pageSize must be a non-negative integer", param: "pageSize" }),
      )
    const token = query.get("pageToken")
    const offset = token === null || token === "" ? 0 : offsetOf(token)
    if (offset === undefined)
      return yield* Effect.fail(new Errors.InvalidRequest({ message: "invalid pageToken", param: "pageToken" }))
    return { offset, size: Math.min(size === 0 ? defaultSize : size, maxSize) }
  })

export const nextToken = (offset: number, size: number, total: number): Option.Option<string> =>
  offset + size < total ? Option.some(pageToken(offset + size)) : Option.none()

const listFiles = (store: FileStore, at: At) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const { offset, size } = yield* page(request.query)
      const all = yield* orFail(store.list(owner))
      const base = baseOf(request, at)
      const body: Json = { files: all.slice(offset, offset + size).map((f) => toGemini(f, base)) }
      const next = nextToken(offset, size, all.length)
      if (Option.isSome(next)) body.nextPageToken = next.value
      return json(body)
    }),
  )

const deleteFile = (store: FileStore) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const id = fileId(request)
      if (!(yield* orFail(store.remove(owner, id)))) return yield* Effect.fail(notFound(id))
      return json({})
    }),
  )

/** A file's bytes as a reply. */
export const content = (data: Uint8Array, mimeType: string): Ingress.Reply => ({
  _tag: "Stream",
  status: 200,
  contentType: mimeType,
  body: Stream.make(data),
  headers: { "content-length": String(data.byteLength) },
})

const download = (store: FileStore) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { owner, id, file } = yield* ownedFile(store, request, handler)
      // Google serves back only what it generated (batch results, videos), never an upload.
      if (file.source !== "GENERATED")
        return yield* Effect.fail(
          new Errors.InvalidRequest({ message: `Only generated files can be downloaded; files/${id} was uploaded.` }),
        )
      const data = yield* orFail(store.read(owner, id))
      if (data === undefined) return yield* Effect.fail(notFound(id))
      return content(data, file.mimeType)
    }),
  )

/** The routes under one prefix (`""` or the ingress's pathPrefix). */
export const routes = (store: FileStore, at: At): ReadonlyArray<Ingress.Route> => {
  const p = at.prefix
  return [
    { method: "POST", path: `${p}/upload/v1beta/files`, handle: upload(store, at) },
    { method: "GET", path: `${p}/v1beta/files/{id}:download`, handle: download(store) },
    { method: "GET", path: `${p}/download/v1beta/files/{id}:download`, handle: download(store) },
    { method: "GET", path: `${p}/v1beta/files`, handle: listFiles(store, at) },
    { method: "GET", path: `${p}/v1beta/files/{id}`, handle: getFile(store, at) },
    { method: "DELETE", path: `${p}/v1beta/files/{id}`, handle: deleteFile(store) },
  ]
}
