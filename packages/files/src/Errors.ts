/** Store failures and upload mismatches as the gateway's errors (the reason is logged, not sent). */
import { Effect } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import type { FileStoreError, UploadMismatch } from "./FileStore.ts"

export const storeFailed = (e: FileStoreError): Effect.Effect<never, GatewayError> =>
  Effect.zipRight(
    Effect.logWarning(`files: the file store failed (${e.reason})`),
    Effect.fail(
      new Errors.Unavailable({ message: "the file store is unavailable; try again shortly", retryAfterSeconds: 1 }),
    ),
  )

export const mismatch = (e: UploadMismatch): GatewayError => new Errors.InvalidRequest({ message: e.message })

/** Run a store effect, its failures as gateway errors. */
export const orFail = <A>(effect: Effect.Effect<A, FileStoreError | UploadMismatch>): Effect.Effect<A, GatewayError> =>
  Effect.catchAll(effect, (e) => (e._tag === "FileStoreError" ? storeFailed(e) : Effect.fail(mismatch(e))))

export const tooLarge = (bytes: number, max: number): GatewayError =>
  new Errors.PayloadTooLarge({
    message: `the file is ${bytes} bytes; this gateway takes files of at most ${max} bytes (files.maxBytes)`,
  })
