/**
 * The gateway's file store: what the Gemini Files API and OpenAI `/v1/files` serve, what a
 * `fileData` part or a `file_id` names, and where batch inputs and results live. Files belong
 * to an owner (the scope of the key that uploaded them): every read takes the owner, and a file
 * of another owner is not found. Ids are minted here (`[a-z0-9]`, never a caller's string), so
 * they are safe in a path, a URL and a Gemini file URI.
 *
 * The local-directory store is the default (LocalFileStore); another backend (S3-compatible)
 * implements this interface.
 */
import * as Crypto from "node:crypto"
import { Data, type Effect } from "effect"

export type Source = "UPLOADED" | "GENERATED"

export interface FileRecord {
  readonly id: string
  readonly owner: string
  readonly displayName: string
  readonly mimeType: string
  readonly bytes: number
  /** SHA-256 of the content, base64 (Gemini's sha256Hash). */
  readonly sha256: string
  /** Epoch ms. */
  readonly createdAt: number
  readonly expiresAt: number
  /** OpenAI's purpose: `user_data`, `batch`, `batch_output`, … (Gemini uploads: `user_data`). */
  readonly purpose: string
  readonly source: Source
}

export interface NewFile {
  readonly owner: string
  readonly displayName: string
  readonly mimeType: string
  readonly purpose: string
  readonly source: Source
  /** Kept this long (at most the store's own lifetime for files). */
  readonly ttlMs?: number | undefined
}

export interface UploadSession {
  readonly id: string
  readonly owner: string
  readonly file: NewFile
  /** The size the client announced at start. */
  readonly total: number
  readonly received: number
}

export class FileStoreError extends Data.TaggedError("FileStoreError")<{ readonly reason: string }> {}

/** A chunk that does not continue the upload where it stands (wrong offset, past the size). */
export class UploadMismatch extends Data.TaggedError("UploadMismatch")<{
  readonly message: string
}> {}

export interface FileStore {
  /** The largest file it takes. */
  readonly maxBytes: number
  readonly put: (file: NewFile, data: Uint8Array) => Effect.Effect<FileRecord, FileStoreError>
  readonly get: (owner: string, id: string) => Effect.Effect<FileRecord | undefined, FileStoreError>
  readonly read: (owner: string, id: string) => Effect.Effect<Uint8Array | undefined, FileStoreError>
  /** The owner's live files, oldest first. */
  readonly list: (owner: string) => Effect.Effect<ReadonlyArray<FileRecord>, FileStoreError>
  readonly remove: (owner: string, id: string) => Effect.Effect<boolean, FileStoreError>
  /** A resumable upload of `total` bytes. */
  readonly startUpload: (file: NewFile, total: number) => Effect.Effect<UploadSession, FileStoreError>
  readonly uploadOf: (owner: string, sessionId: string) => Effect.Effect<UploadSession | undefined, FileStoreError>
  /** Bytes at `offset` (which must be what was received so far). */
  readonly append: (
    owner: string,
    sessionId: string,
    offset: number,
    chunk: Uint8Array,
  ) => Effect.Effect<UploadSession, FileStoreError | UploadMismatch>
  /** The upload as a file, once every announced byte arrived; the session is gone after. */
  readonly finish: (owner: string, sessionId: string) => Effect.Effect<FileRecord, FileStoreError | UploadMismatch>
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

/** A fresh id: 24 characters of `[a-z0-9]` (Gemini's file-id charset, ≤ 40). */
export const newId = (length = 24): string => {
  const bytes = Crypto.randomBytes(length)
  let out = ""
  for (const b of bytes) out += alphabet[b % alphabet.length]
  return out
}

/** Whether a string could be an id this store minted (checked before it reaches a path). */
export const isId = (s: string): boolean => /^[a-z0-9]{1,40}$/.test(s)

export const sha256Base64 = (data: Uint8Array): string => Crypto.createHash("sha256").update(data).digest("base64")
