/**
 * OpenAI's `/v1/files` on the gateway's file store: create (multipart `file` + `purpose`,
 * optional `expires_after[anchor]`/`expires_after[seconds]`), list (`after`, `limit`, `order`,
 * `purpose`), retrieve, delete and `/content`. The same files the Gemini Files API serves:
 * `file-<id>` here is `files/<id>` there.
 */
import { Effect } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import { Echo, type HandlerFn, type Ingress } from "@sluice/core"
import { Ingress as OpenAIIngress, Multipart } from "@sluice/openai"
import { orFail, tooLarge } from "./Errors.ts"
import type { FileRecord, FileStore } from "./FileStore.ts"
import * as GeminiFiles from "./GeminiFiles.ts"
import { content } from "./GeminiFiles.ts"
import { authorize } from "./Owner.ts"
import { type Json, json, openaiLimit, openaiPage } from "./Json.ts"

export const purposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"] as const

const run = (effect: Effect.Effect<Ingress.Reply, GatewayError>): Effect.Effect<Ingress.Reply> =>
  Effect.catchAll(effect, (e) => Effect.succeed(OpenAIIngress.error(e)))

const seconds = (ms: number) => Math.floor(ms / 1000)

export const openaiId = (id: string) => `file-${id}`

/** The store id in an OpenAI file id, if it is one of ours. */
export const storeIdOf = (fileId: string): string | undefined => /^file-([a-z0-9]{1,40})$/.exec(fileId)?.[1]

export const toOpenAI = (f: FileRecord): Json => ({
  id: openaiId(f.id),
  object: "file",
  bytes: f.bytes,
  created_at: seconds(f.createdAt),
  expires_at: seconds(f.expiresAt),
  filename: f.displayName,
  purpose: f.purpose,
  status: "processed",
  status_details: null,
})

export const notFound = (fileId: string) =>
  new Errors.NotFound({ message: `No such File object: ${Echo.cap(fileId, 64)}` })

/** Multipart bodies carry a little more than the file itself. */
const formOverhead = 64 * 1024

const create = (store: FileStore) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const bytes = yield* request
        .bytes(store.maxBytes + formOverhead)
        .pipe(
          Effect.catchTag("PayloadTooLarge", () =>
            Effect.fail(tooLarge(Number(request.headers["content-length"] ?? store.maxBytes + 1), store.maxBytes)),
          ),
        )
      const form = yield* Multipart.parse(bytes, request.headers["content-type"])
      const purpose = yield* Multipart.text(form, "purpose")
      if (purpose === undefined)
        return yield* Effect.fail(
          new Errors.InvalidRequest({ message: "Missing required parameter: 'purpose'.", param: "purpose" }),
        )
      if (!(purposes as ReadonlyArray<string>).includes(purpose))
        return yield* Effect.fail(
          new Errors.InvalidRequest({
            message: `Invalid value for 'purpose': ${Echo.cap(purpose, 32)} (expected one of ${purposes.join(", ")}).`,
            param: "purpose",
          }),
        )
      const files = Multipart.files(form, "file")
      const file = files[0]
      if (file === undefined || files.length > 1)
        return yield* Effect.fail(
          new Errors.InvalidRequest({ message: "expected exactly one 'file' part with a filename", param: "file" }),
        )
      if (file.size > store.maxBytes) return yield* Effect.fail(tooLarge(file.size, store.maxBytes))
      const anchor = yield* Multipart.text(form, "expires_after[anchor]")
      const after = yield* Multipart.text(form, "expires_after[seconds]")
      let ttlMs: number | undefined
      if (anchor !== undefined || after !== undefined) {
        if (anchor !== "created_at")
          return yield* Effect.fail(
            new Errors.InvalidRequest({
              message: "expires_after[anchor] must be created_at",
              param: "expires_after.anchor",
            }),
          )
        const s = Number(after)
        if (after === undefined || !Number.isInteger(s) || s < 3600 || s > 2_592_000)
          return yield* Effect.fail(
            new Errors.InvalidRequest({
              message: "expires_after[seconds] must be an integer from 3600 to 2592000",
              param: "expires_after.seconds",
            }),
          )
        ttlMs = s * 1000
      }
      const data = new Uint8Array(yield* Effect.promise(() => file.arrayBuffer()))
      const name = file.name === "" ? "upload" : file.name.slice(0, 512)
      const record = yield* orFail(
        store.put(
          {
            owner,
            displayName: name,
            // The declared type becomes a Content-Type on /content: only a well-formed one is kept.
            mimeType:
              file.type === "" || file.type === "application/octet-stream" || !GeminiFiles.mimeRule.test(file.type)
                ? mimeOf(name)
                : file.type,
            purpose,
            source: "UPLOADED",
            ttlMs,
          },
          data,
        ),
      )
      return json(toOpenAI(record))
    }),
  )

const extensions: Record<string, string> = {
  jsonl: "application/jsonl",
  json: "application/json",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  mp3: "audio/mpeg",
  wav: "audio/wav",
}

/** A MIME type from a filename's extension (multipart parts often say only octet-stream). */
export const mimeOf = (name: string): string =>
  extensions[name.slice(name.lastIndexOf(".") + 1).toLowerCase()] ?? "application/octet-stream"

const found = (store: FileStore, request: Ingress.IngressRequest, handler: HandlerFn) =>
  Effect.gen(function* () {
    const owner = yield* authorize(request, handler)
    const fileId = request.params.id ?? ""
    const id = storeIdOf(fileId)
    const record = id === undefined ? undefined : yield* orFail(store.get(owner, id))
    if (record === undefined) return yield* Effect.fail(notFound(fileId))
    return { owner, record }
  })

const retrieve = (store: FileStore) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(Effect.map(found(store, request, handler), ({ record }) => json(toOpenAI(record))))

const remove = (store: FileStore) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { owner, record } = yield* found(store, request, handler)
      yield* orFail(store.remove(owner, record.id))
      return json({ id: openaiId(record.id), object: "file", deleted: true })
    }),
  )

const read = (store: FileStore) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const { owner, record } = yield* found(store, request, handler)
      const data = yield* orFail(store.read(owner, record.id))
      if (data === undefined) return yield* Effect.fail(notFound(openaiId(record.id)))
      return content(data, record.mimeType)
    }),
  )

const list = (store: FileStore) => (request: Ingress.IngressRequest, handler: HandlerFn) =>
  run(
    Effect.gen(function* () {
      const owner = yield* authorize(request, handler)
      const q = request.query
      const limit = yield* openaiLimit(q, 10_000, 10_000)
      const order = q.get("order") ?? "desc"
      if (order !== "asc" && order !== "desc")
        return yield* Effect.fail(new Errors.InvalidRequest({ message: "order must be asc or desc", param: "order" }))
      const purpose = q.get("purpose")
      let all = [...(yield* orFail(store.list(owner)))]
      if (purpose !== null) all = all.filter((f) => f.purpose === purpose)
      if (order === "desc") all.reverse()
      return json(openaiPage(all, q.get("after"), limit, (f) => openaiId(f.id), toOpenAI))
    }),
  )

export const routes = (store: FileStore): ReadonlyArray<Ingress.Route> => [
  { method: "POST", path: "/v1/files", handle: create(store) },
  { method: "GET", path: "/v1/files", handle: list(store) },
  { method: "GET", path: "/v1/files/{id}/content", handle: read(store) },
  { method: "GET", path: "/v1/files/{id}", handle: retrieve(store) },
  { method: "DELETE", path: "/v1/files/{id}", handle: remove(store) },
]
