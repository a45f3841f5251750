/**
 * The `files:` and `batches:` config sections.
 *
 *   files:   { dir: ./.sluice/files, maxBytes: 100mb, ttlHours: 48, inlineMaxBytes: 20mb }
 *   batches: { concurrency: 4, queue: auto, itemRetries: 3 }
 */
import { Schema } from "effect"
import { Config } from "@sluice/core"

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())

export const FilesSection = Schema.Struct({
  /** Where uploaded and generated files (and batch state) are kept. */
  dir: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => ".sluice/files" }),
  /** The largest file a caller may upload (Gemini's own limit is 2 GB, OpenAI's 512 MB). */
  maxBytes: Schema.optionalWith(Config.ByteSize, { default: () => 100 * 1024 * 1024 }),
  /** How long a file is kept after its upload (Google keeps them 48 hours). */
  ttlHours: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 48 }),
  /** The largest file a request may reference: it is sent to the upstream inline, as base64. */
  inlineMaxBytes: Schema.optionalWith(Config.ByteSize, { default: () => 20 * 1024 * 1024 }),
})
export type FilesSection = typeof FilesSection.Type

export const BatchesSection = Schema.Struct({
  /** Items of one batch in flight at once (interactive traffic is never queued behind them). */
  concurrency: Schema.optionalWith(PositiveInt, { default: () => 4 }),
  /** `auto`: BullMQ on the `redis:` section's Redis when there is one, else in-process. */
  queue: Schema.optionalWith(Schema.Literal("auto", "memory", "redis"), { default: () => "auto" as const }),
  /** How often an item refused with 429 (the key's own rate limit) is retried after its retry-after. */
  itemRetries: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.nonNegative()), { default: () => 3 }),
  /** The most lines one batch may hold. */
  maxItems: Schema.optionalWith(PositiveInt, { default: () => 50_000 }),
  /** BullMQ: how long a job's lock lasts without renewal (a crashed instance's batch is picked up after it). */
  lockDuration: Schema.optionalWith(Config.Duration, { default: () => 30_000 }),
})
export type BatchesSection = typeof BatchesSection.Type
