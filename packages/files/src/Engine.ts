/**
 * The batch runner: each batch's items go through the gateway's own handler (the current
 * config generation's), as the key that created the batch, at a bounded concurrency. Progress
 * is written per item (BatchStore), so a batch interrupted by a restart resumes where it
 * stopped and completes.
 *
 * Batches are queued on a job engine: BullMQ on Redis when the config has `redis:` (any
 * instance that shares the files directory picks work up; a batch whose instance died is taken
 * over once its lock lapses), else an in-process queue that resumes unfinished batches at start.
 */
import { Deferred, Duration, Effect, Either, Option, Queue, Redacted, Runtime, type Scope } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"
import type { GatewayRequest, HandlerFn, RequestContext } from "@sluice/core"
import { Credentials } from "@sluice/auth"
import { type BatchRecord, type BatchStore, type Item, type Result, terminal } from "./BatchStore.ts"
import type { FileStore, FileStoreError } from "./FileStore.ts"
import * as Items from "./Items.ts"

export type QueueKind =
  | { readonly kind: "memory" }
  | { readonly kind: "redis"; readonly url: string; readonly prefix: string }

export interface Options {
  readonly files: FileStore
  readonly batches: BatchStore
  readonly concurrency: number
  readonly itemRetries: number
  readonly lockDurationMs: number
  /** Keys that seal the creating key in the batch record (the first seals; any opens). */
  readonly keys: ReadonlyArray<Credentials.CredentialKey>
  readonly queue: QueueKind
}

export interface Engine {
  readonly files: FileStore
  readonly batches: BatchStore
  readonly queue: QueueKind["kind"]
  /** The handler batch items go through: each config generation attaches its own. */
  readonly attach: (handler: HandlerFn) => Effect.Effect<void>
  /** Store a new batch and queue it. */
  readonly submit: (
    record: BatchRecord,
    items: ReadonlyArray<Item>,
    credential: Redacted.Redacted<string> | undefined,
  ) => Effect.Effect<BatchRecord, FileStoreError>
  /** Ask a batch to stop; what finished is kept. */
  readonly cancel: (owner: string, id: string) => Effect.Effect<BatchRecord | undefined, FileStoreError>
}

const sealed = "batch"

/**
 * One runner per batch in this process. A config change that rebuilds the engine starts a new
 * one while the old generation still drains: the new engine's run of a batch waits for the old
 * one to stop, then goes on from the recorded progress.
 */
const running = new Map<string, Effect.Semaphore>()
const exclusive = (id: string) => {
  let lock = running.get(id)
  if (lock === undefined) {
    lock = Effect.unsafeMakeSemaphore(1)
    running.set(id, lock)
  }
  return lock.withPermits(1)
}

export const make = (options: Options): Effect.Effect<Engine, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { batches, files } = options
    let current: HandlerFn | undefined
    const ready = yield* Deferred.make<void>()

    /** The current handler, waiting (without limit) for a 429 past its retry-after. */
    const patient =
      (left: number): HandlerFn =>
      (request: GatewayRequest) =>
        Effect.suspend(() => current!(request)).pipe(
          Effect.catchTag("RateLimited", (e) =>
            left > 0 && (e.retryAfterSeconds ?? 1) <= 60
              ? Effect.zipRight(
                  Effect.sleep(Duration.seconds(Math.max(e.retryAfterSeconds ?? 1, 0.05))),
                  patient(left - 1)(request),
                )
              : Effect.fail(e),
          ),
        )

    /** The creating key, or "lost" when it was sealed by a key this process does not have. */
    const open = (record: BatchRecord): Redacted.Redacted<string> | undefined | "lost" => {
      if (record.credential === undefined) return undefined
      const opened = Credentials.open(options.keys, record.id, sealed, record.credential)
      return Either.isRight(opened) ? opened.right : "lost"
    }

    const lostKey = new Errors.Unauthenticated({
      message:
        "the key that created this batch cannot be recovered after a gateway restart (configure auth.credentialKeys so batches resume)",
    })

    const tally = (results: ReadonlyArray<Result>) => {
      const seen = new Set<number>()
      let succeeded = 0
      let failed = 0
      for (const r of results) {
        if (seen.has(r.i)) continue
        seen.add(r.i)
        if (r.ok) succeeded++
        else failed++
      }
      return { succeeded, failed }
    }

    const finalize = (id: string) =>
      Effect.gen(function* () {
        const record = yield* batches.load(id)
        if (record === undefined || terminal(record.state)) return
        const items = yield* batches.items(id)
        const results = yield* batches.results(id)
        let outputFileId: string | undefined
        let errorFileId: string | undefined
        const put = (name: string, text: string) =>
          Effect.map(
            files.put(
              {
                owner: record.owner,
                displayName: name,
                mimeType: "application/jsonl",
                purpose: "batch_output",
                source: "GENERATED",
              },
              new TextEncoder().encode(text),
            ),
            (f) => f.id,
          )
        if (record.format === "gemini") {
          if (record.inputFileId !== undefined)
            outputFileId = yield* put(`batch-${id}-results.jsonl`, Items.geminiResultsFile(items, results))
        } else {
          const out = Items.openaiFiles(id, items, results)
          if (out.output !== "") outputFileId = yield* put(`batch_${id}_output.jsonl`, out.output)
          if (out.errors !== "") errorFileId = yield* put(`batch_${id}_error.jsonl`, out.errors)
        }
        const now = Date.now()
        yield* batches.update(id, (r) => ({
          ...r,
          ...tally(results),
          state: r.state === "cancelling" ? "cancelled" : "succeeded",
          outputFileId,
          errorFileId,
          endedAt: now,
          updatedAt: now,
        }))
      })

    const runBatch = (id: string) =>
      Effect.gen(function* () {
        yield* Deferred.await(ready)
        const loaded = yield* batches.load(id)
        if (loaded === undefined || terminal(loaded.state)) return
        const items = yield* batches.items(id)
        const previous = yield* batches.results(id)
        const done = new Set(previous.map((r) => r.i))
        const started = Date.now()
        const record = yield* batches.update(id, (r) => ({
          ...r,
          ...tally(previous),
          state: r.state === "pending" ? "running" : r.state,
          startedAt: r.startedAt ?? started,
          updatedAt: started,
        }))
        if (record === undefined) return
        const credential = open(record)
        let stop = record.state === "cancelling"
        yield* Effect.forEach(
          items.entries(),
          ([i, item]) =>
            Effect.gen(function* () {
              if (stop || done.has(i)) return
              const now = yield* batches.load(id)
              if (now === undefined || now.state === "cancelling") {
                stop = true
                return
              }
              const ctx: RequestContext = {
                id: `${id}-${i}`,
                ingress: record.format,
                startedAt: Date.now(),
                headers: {},
                credential: credential === "lost" ? undefined : credential,
              }
              const handler = patient(options.itemRetries)
              // Without its key an item still runs (a gateway without auth needs none); auth's refusal says why.
              const outcome = yield* Items.run(
                record,
                item,
                credential === "lost"
                  ? (r) =>
                      Effect.mapError(handler(r), (e): GatewayError => (e._tag === "Unauthenticated" ? lostKey : e))
                  : handler,
                ctx,
              )
              yield* batches.appendResult(id, { i, ok: outcome.ok, status: outcome.status, body: outcome.body })
              yield* batches.update(id, (r) => ({
                ...r,
                succeeded: r.succeeded + (outcome.ok ? 1 : 0),
                failed: r.failed + (outcome.ok ? 0 : 1),
                inputTokens: r.inputTokens + outcome.inputTokens,
                outputTokens: r.outputTokens + outcome.outputTokens,
                updatedAt: Date.now(),
              }))
            }),
          { concurrency: options.concurrency, discard: true },
        )
        const after = yield* batches.load(id)
        if (after === undefined) return
        yield* finalize(id)
      }).pipe(exclusive(id), Effect.withSpan("sluice.batch", { attributes: { "sluice.batch.id": id } }))

    // ---- the queue ----------------------------------------------------------------------------

    let enqueue: (id: string) => Effect.Effect<void>
    if (options.queue.kind === "memory") {
      const queue = yield* Queue.unbounded<string>()
      const queued = new Set<string>()
      enqueue = (id) =>
        Effect.suspend(() => {
          if (queued.has(id)) return Effect.void
          queued.add(id)
          return Queue.offer(queue, id)
        })
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(queue), (id) =>
            runBatch(id).pipe(
              Effect.catchAllCause((cause) => Effect.logWarning(`batches: batch ${id} stopped`, cause)),
              Effect.ensuring(Effect.sync(() => queued.delete(id))),
            ),
          ),
        ),
      )
    } else {
      const { url, prefix } = options.queue
      const runtime = yield* Effect.runtime<never>()
      type Bull = {
        readonly queue: import("bullmq").Queue
        readonly worker: import("bullmq").Worker
      }
      // BullMQ is loaded and connected once the gateway has its first handler (after start-up).
      const bull = yield* Deferred.make<Bull | undefined>()
      const controllers = new Set<AbortController>()
      let closed = false
      const connect = Effect.tryPromise(async (): Promise<Bull> => {
        const { Queue: BullQueue, Worker } = await import("bullmq")
        const connection = { url, maxRetriesPerRequest: null } as const
        const name = "batches"
        const bullPrefix = `${prefix}bull`
        const queue = new BullQueue(name, { connection, prefix: bullPrefix })
        const worker = new Worker(
          name,
          async (job) => {
            const controller = new AbortController()
            controllers.add(controller)
            try {
              await Runtime.runPromise(runtime)(runBatch(String((job.data as { id?: unknown }).id ?? "")), {
                signal: controller.signal,
              })
            } finally {
              controllers.delete(controller)
            }
          },
          {
            connection,
            prefix: bullPrefix,
            concurrency: 1,
            lockDuration: options.lockDurationMs,
            stalledInterval: Math.max(1_000, Math.floor(options.lockDurationMs / 2)),
          },
        )
        // Redis outages are reported by the calls that need it; no unhandled 'error' events.
        worker.on("error", () => undefined)
        queue.on("error", () => undefined)
        if (closed) {
          // The engine closed while BullMQ was starting.
          await worker.close().catch(() => undefined)
          await queue.close().catch(() => undefined)
          throw new Error("closed")
        }
        return { queue, worker }
      })
      yield* Effect.forkScoped(
        Effect.zipRight(
          Deferred.await(ready),
          connect.pipe(
            Effect.tapError(() => Effect.logWarning("batches: cannot start the BullMQ queue; batches wait for it")),
            Effect.option,
            Effect.flatMap((b) => Deferred.succeed(bull, Option.getOrUndefined(b))),
          ),
        ),
      )
      enqueue = (id) =>
        Effect.flatMap(Deferred.await(bull), (b) =>
          b === undefined
            ? Effect.logWarning(`batches: batch ${id} is not queued (no BullMQ queue)`)
            : Effect.asVoid(
                Effect.tryPromise(() =>
                  b.queue.add(
                    "batch",
                    { id },
                    {
                      jobId: `b${id}`,
                      attempts: 1_000,
                      backoff: { type: "fixed", delay: 1_000 },
                      removeOnComplete: true,
                      removeOnFail: true,
                    },
                  ),
                ).pipe(Effect.catchAll(() => Effect.logWarning(`batches: cannot queue batch ${id} on Redis`))),
              ),
        )
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(Deferred.poll(bull), (polled) =>
          Effect.promise(async () => {
            closed = true
            const b = Option.isSome(polled) ? await Effect.runPromise(polled.value) : undefined
            // Stop this instance's batch (it goes back to the queue for the next instance), then close.
            for (const c of controllers) c.abort()
            if (b !== undefined) {
              await b.worker.close().catch(() => undefined)
              await b.queue.close().catch(() => undefined)
            }
          }),
        ),
      )
    }

    // Unfinished batches (a restart) are queued again once a handler is attached.
    yield* Effect.forkScoped(
      Effect.zipRight(
        Deferred.await(ready),
        batches.unfinished.pipe(
          Effect.flatMap((all) => Effect.forEach(all, (r) => enqueue(r.id), { discard: true })),
          Effect.catchAll((e) => Effect.logWarning(`batches: cannot resume unfinished batches (${e.reason})`)),
        ),
      ),
    )

    const engine: Engine = {
      files,
      batches,
      queue: options.queue.kind,
      attach: (handler) =>
        Effect.zipRight(
          Effect.sync(() => {
            current = handler
          }),
          Deferred.succeed(ready, undefined),
        ),
      submit: (record, items, credential) =>
        Effect.gen(function* () {
          const withKey: BatchRecord =
            credential === undefined || Redacted.value(credential) === "" || options.keys.length === 0
              ? record
              : { ...record, credential: Credentials.seal(options.keys, record.id, sealed, Redacted.value(credential)) }
          yield* batches.create(withKey, items)
          yield* enqueue(record.id)
          return withKey
        }),
      cancel: (owner, id) =>
        Effect.gen(function* () {
          const record = yield* batches.get(owner, id)
          if (record === undefined) return undefined
          if (terminal(record.state)) return record
          const now = Date.now()
          const next = yield* batches.update(id, (r) =>
            terminal(r.state) ? r : { ...r, state: "cancelling", cancellingAt: now, updatedAt: now },
          )
          // A batch no runner holds yet finishes its cancellation when the queue reaches it.
          return next
        }),
    }
    return engine
  })
