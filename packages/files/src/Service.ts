/**
 * The file store and the batch engine as one long-lived service (the same instance across
 * config reloads while `files:`, `batches:`, `redis:` and `auth.credentialKeys` are unchanged),
 * and the routes each wire format serves from it.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { Config, type Ingress, Services } from "@sluice/core"
import { ConfigKeys, Credentials } from "@sluice/auth"
import * as BatchStore from "./BatchStore.ts"
import * as Engine from "./Engine.ts"
import type { FileStore } from "./FileStore.ts"
import * as GeminiBatches from "./GeminiBatches.ts"
import * as GeminiFiles from "./GeminiFiles.ts"
import * as LocalFileStore from "./LocalFileStore.ts"
import * as OpenAIBatches from "./OpenAIBatches.ts"
import * as OpenAIFiles from "./OpenAIFiles.ts"
import { BatchesSection, FilesSection } from "./Section.ts"

export interface Files {
  readonly store: FileStore
  readonly engine: Engine.Engine
  readonly files: FilesSection
  readonly batches: BatchesSection
}

export class FilesService extends Context.Tag("@sluice/files/FilesService")<FilesService, Files>() {}

const issue = (path: string, message: string) => new Config.ConfigError({ issues: [{ path, message }] })

export const make = (config: Config.GatewayConfig): Effect.Effect<Files, Config.ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const files = yield* Config.decodeSection(FilesSection, config.files ?? {}, "files")
    const batches = yield* Config.decodeSection(BatchesSection, config.batches ?? {}, "batches")
    const auth = yield* Config.decodeSection(ConfigKeys.AuthSection, config.auth ?? {}, "auth")
    let queue: Engine.QueueKind = { kind: "memory" }
    if (batches.queue === "redis" || (batches.queue === "auto" && config.redis !== undefined)) {
      if (config.redis === undefined)
        return yield* Effect.fail(issue("batches.queue", "the redis queue needs a redis: { url } section"))
      const redis = yield* Config.decodeSection(ConfigKeys.RedisSection, config.redis, "redis")
      queue = { kind: "redis", url: redis.url, prefix: redis.prefix }
    }
    const store = yield* LocalFileStore.make({
      dir: files.dir,
      maxBytes: files.maxBytes,
      ttlMs: files.ttlHours * 3_600_000,
    })
    // Without configured keys, the creating key is sealed by a key of this process: a batch
    // resumed after a restart then runs without it (and a gateway with auth refuses its items).
    const keys =
      auth.credentialKeys !== undefined && auth.credentialKeys.length > 0
        ? auth.credentialKeys
        : [Credentials.ephemeralKey()]
    const engine = yield* Engine.make({
      files: store,
      batches: BatchStore.make(files.dir, files.ttlHours * 3_600_000),
      concurrency: batches.concurrency,
      itemRetries: batches.itemRetries,
      lockDurationMs: batches.lockDuration,
      keys,
      queue,
    })
    yield* Effect.logDebug(
      `files: store in ${files.dir}, batches queued ${queue.kind === "redis" ? "on Redis (BullMQ)" : "in process"}`,
    )
    return { store, engine, files, batches }
  })

export const layerConfig = (config: Config.GatewayConfig): Layer.Layer<FilesService, Config.ConfigError> =>
  Services.stable(
    "files",
    {
      files: config.files,
      batches: config.batches,
      redis: config.redis,
      credentialKeys: (config.auth as { credentialKeys?: unknown } | undefined)?.credentialKeys,
    },
    () => Layer.scoped(FilesService, make(config)),
  )

/** The Gemini routes (Files API, batches) under one prefix. */
export const geminiRoutes =
  (f: Files) =>
  (prefix: string, origin: GeminiFiles.Origin): ReadonlyArray<Ingress.Route> => [
    ...GeminiFiles.routes(f.store, { prefix, origin }),
    ...GeminiBatches.routes(f.engine, prefix, f.batches.maxItems),
  ]

/** The OpenAI routes (`/v1/files`, `/v1/batches`). */
export const openaiRoutes = (f: Files): ReadonlyArray<Ingress.Route> => [
  ...OpenAIFiles.routes(f.store),
  ...OpenAIBatches.routes(f.engine, f.batches.maxItems),
]
