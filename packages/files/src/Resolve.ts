/**
 * The `files` middleware: a prompt part that names a gateway file — a Gemini `fileData` whose
 * `fileUri` is one of the gateway's file URIs (`…/v1beta/files/{id}`, or `files/{id}`), or an
 * OpenAI `file_id` (`file-{id}`) — is replaced by the file's content inline (base64), so every
 * upstream can take it. A file past `files.inlineMaxBytes` is refused with a 400 that says why
 * (the gateway does not upload files to a provider's own file API); a file the caller's key does
 * not own, or that expired, is a 404.
 *
 * It runs before auth (which drops the credential from the request): the owner is the scope of
 * the presented key, checked by the server's admit before the body was read.
 */
import { Effect } from "effect"
import { type Chat, Errors, type GatewayError, type Parts } from "@sluice/schema"
import type { GatewayRequest, Middleware } from "@sluice/core"
import { Media } from "@sluice/openai"
import { orFail } from "./Errors.ts"
import type { FileStore } from "./FileStore.ts"
import { ownerOf } from "./Owner.ts"

/** How the OpenAI ingress carries a `file_id` in the canonical request. */
export const fileRefPrefix = Media.fileRefPrefix

const googleHost = /^https:\/\/generativelanguage\.googleapis\.com\//

export interface FileRef {
  readonly id: string
  /** How the client named it, for errors. */
  readonly name: string
  /** A Google-hosted URI that is not ours is left to a Gemini upstream. */
  readonly maybeGoogle: boolean
}

/** The gateway file a media URL names, if it names one. */
export const refOf = (url: string): FileRef | undefined => {
  if (url.startsWith(fileRefPrefix)) {
    const m = /^file-([a-z0-9]{1,40})$/.exec(url.slice(fileRefPrefix.length))
    return m ? { id: m[1]!, name: `file-${m[1]}`, maybeGoogle: false } : undefined
  }
  const bare = /^files\/([a-z0-9]{1,40})$/.exec(url)
  if (bare) return { id: bare[1]!, name: `files/${bare[1]}`, maybeGoogle: false }
  const m = /^https?:\/\/[^/?#]+(?:\/[^?#]*)?\/v1beta\/files\/([a-z0-9]{1,40})$/.exec(url)
  return m ? { id: m[1]!, name: `files/${m[1]}`, maybeGoogle: googleHost.test(url) } : undefined
}

const hasRefs = (chat: Chat.ChatRequest): boolean =>
  chat.messages.some((m) =>
    m.parts.some((p) => p.type === "image" && p.source.kind === "url" && refOf(p.source.url) !== undefined),
  )

export interface Options {
  readonly store: FileStore
  readonly inlineMaxBytes: number
}

const resolvePart = (
  options: Options,
  owner: string,
  part: Parts.ImagePart,
): Effect.Effect<Parts.ImagePart, GatewayError> =>
  Effect.gen(function* () {
    if (part.source.kind !== "url") return part
    const ref = refOf(part.source.url)
    if (ref === undefined) return part
    const record = yield* orFail(options.store.get(owner, ref.id))
    if (record === undefined) {
      if (ref.maybeGoogle) return part
      return yield* Effect.fail<GatewayError>(
        new Errors.NotFound({
          message: `File ${ref.name} was not found: it expired, was deleted, or belongs to another key`,
        }),
      )
    }
    if (record.bytes > options.inlineMaxBytes)
      return yield* Effect.fail<GatewayError>(
        new Errors.InvalidRequest({
          message: `File ${ref.name} is ${record.bytes} bytes: this gateway sends files to the model inline, up to ${options.inlineMaxBytes} bytes (files.inlineMaxBytes), and does not upload them to a provider's own file API`,
        }),
      )
    const data = yield* orFail(options.store.read(owner, ref.id))
    if (data === undefined)
      return yield* Effect.fail<GatewayError>(new Errors.NotFound({ message: `File ${ref.name} was not found` }))
    const resolved: Parts.ImagePart = {
      ...part,
      source: {
        kind: "base64",
        mediaType: record.mimeType.split(";")[0]!.trim(),
        data: Buffer.from(data).toString("base64"),
      },
    }
    return resolved
  })

/** The chat with every gateway file it names inlined. */
export const resolve = (
  options: Options,
  owner: string,
  chat: Chat.ChatRequest,
): Effect.Effect<Chat.ChatRequest, GatewayError> =>
  Effect.map(
    Effect.forEach(chat.messages, (m) =>
      Effect.map(
        Effect.forEach(
          m.parts,
          (p): Effect.Effect<Parts.Part, GatewayError> =>
            p.type === "image" ? resolvePart(options, owner, p) : Effect.succeed(p),
        ),
        (parts): Chat.Message => ({ ...m, parts }),
      ),
    ),
    (messages): Chat.ChatRequest => ({ ...chat, messages }),
  )

export const middleware =
  (options: Options): Middleware.Middleware =>
  (next) =>
  (request: GatewayRequest) => {
    if ((request._tag !== "Chat" && request._tag !== "CountTokens") || !hasRefs(request.chat)) return next(request)
    return Effect.flatMap(resolve(options, ownerOf(request.ctx), request.chat), (chat) =>
      next({ ...request, chat } as GatewayRequest),
    )
  }
