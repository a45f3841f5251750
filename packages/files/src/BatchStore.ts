/**
 * Batch state in the files directory: `<dir>/batches/<id>.json` (the record),
 * `<id>.items.jsonl` (the input, one item per line, as decoded at creation) and
 * `<id>.results.jsonl` (one line per finished item, appended as items finish — what a batch
 * resumed after a restart skips). Ids are minted here; records belong to an owner as files do.
 * A finished batch is removed, when batches are next listed, once it ended `ttlMs` ago.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Effect } from "effect"
import { FileStoreError, isId } from "./FileStore.ts"

export type State = "pending" | "running" | "cancelling" | "succeeded" | "failed" | "cancelled" | "expired"

export const terminal = (s: State): boolean =>
  s === "succeeded" || s === "failed" || s === "cancelled" || s === "expired"

export interface BatchRecord {
  readonly id: string
  readonly owner: string
  readonly format: "gemini" | "openai"
  /** Gemini: the model in the URL. */
  readonly model?: string | undefined
  /** OpenAI: the endpoint every line calls. */
  readonly endpoint?: string | undefined
  readonly displayName?: string | undefined
  readonly metadata?: Readonly<Record<string, string>> | undefined
  /** Where the items came from: inline in the create call, or a file. */
  readonly inputFileId?: string | undefined
  readonly state: State
  readonly createdAt: number
  readonly updatedAt: number
  readonly startedAt?: number | undefined
  readonly cancellingAt?: number | undefined
  readonly endedAt?: number | undefined
  readonly total: number
  readonly succeeded: number
  readonly failed: number
  readonly inputTokens: number
  readonly outputTokens: number
  /** The results file (Gemini file input; OpenAI output) and the errors file (OpenAI). */
  readonly outputFileId?: string | undefined
  readonly errorFileId?: string | undefined
  /** The creating key, sealed (the batch's items run as that key). */
  readonly credential?: string | undefined
}

/** One input line as decoded at creation: a request, or why its line is unusable. */
export interface Item {
  /** Gemini `key` / inline `metadata.key`; OpenAI `custom_id`. */
  readonly key?: string | undefined
  readonly metadata?: Readonly<Record<string, string>> | undefined
  readonly request?: unknown
  readonly url?: string | undefined
  /** The line (1-based) in an input file. */
  readonly line?: number | undefined
  readonly invalid?: string | undefined
}

export interface Result {
  readonly i: number
  readonly ok: boolean
  readonly status: number
  readonly body: unknown
}

const fail = (what: string) => (e: unknown) =>
  new FileStoreError({
    reason: `${what}: ${e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.name) : "error"}`,
  })

const missing = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT"

export interface BatchStore {
  readonly create: (record: BatchRecord, items: ReadonlyArray<Item>) => Effect.Effect<void, FileStoreError>
  /** The record whoever owns it (the runner), or undefined. */
  readonly load: (id: string) => Effect.Effect<BatchRecord | undefined, FileStoreError>
  /** The owner's record, or undefined. */
  readonly get: (owner: string, id: string) => Effect.Effect<BatchRecord | undefined, FileStoreError>
  readonly list: (owner: string) => Effect.Effect<ReadonlyArray<BatchRecord>, FileStoreError>
  /** Every batch not finished yet (to resume them). */
  readonly unfinished: Effect.Effect<ReadonlyArray<BatchRecord>, FileStoreError>
  /** Change a record under the batch's lock; undefined when it is gone. */
  readonly update: (
    id: string,
    f: (r: BatchRecord) => BatchRecord,
  ) => Effect.Effect<BatchRecord | undefined, FileStoreError>
  readonly remove: (id: string) => Effect.Effect<void, FileStoreError>
  readonly items: (id: string) => Effect.Effect<ReadonlyArray<Item>, FileStoreError>
  readonly results: (id: string) => Effect.Effect<ReadonlyArray<Result>, FileStoreError>
  readonly appendResult: (id: string, result: Result) => Effect.Effect<void, FileStoreError>
}

const readLines = async <A>(path: string): Promise<Array<A>> => {
  let text: string
  try {
    text = await Fs.readFile(path, "utf8")
  } catch (e) {
    if (missing(e)) return []
    throw e
  }
  const out: Array<A> = []
  for (const line of text.split("\n")) {
    if (line === "") continue
    try {
      out.push(JSON.parse(line) as A)
    } catch {
      // A line cut by a crash mid-write: that item runs again.
    }
  }
  return out
}

/** `ttlMs`: how long a finished batch (its state, input and results) is kept after it ended. */
export const make = (dir: string, ttlMs = 48 * 3_600_000): BatchStore => {
  const root = Path.resolve(dir, "batches")
  const recordPath = (id: string) => Path.join(root, `${id}.json`)
  const itemsPath = (id: string) => Path.join(root, `${id}.items.jsonl`)
  const resultsPath = (id: string) => Path.join(root, `${id}.results.jsonl`)
  // One writer per batch in this process: record updates and result appends are serialized.
  const locks = new Map<string, Promise<unknown>>()
  const locked = <A>(id: string, f: () => Promise<A>): Promise<A> => {
    const previous = locks.get(id) ?? Promise.resolve()
    const next = previous.then(f, f)
    const tail = next.catch(() => undefined)
    locks.set(id, tail)
    void tail.then(() => {
      if (locks.get(id) === tail) locks.delete(id)
    })
    return next
  }
  const readRecord = async (id: string): Promise<BatchRecord | undefined> => {
    if (!isId(id)) return undefined
    try {
      return JSON.parse(await Fs.readFile(recordPath(id), "utf8")) as BatchRecord
    } catch (e) {
      if (missing(e) || e instanceof SyntaxError) return undefined
      throw e
    }
  }
  const writeRecord = async (record: BatchRecord) => {
    const tmp = `${recordPath(record.id)}.${process.pid}.tmp`
    await Fs.writeFile(tmp, JSON.stringify(record), { mode: 0o600 })
    await Fs.rename(tmp, recordPath(record.id))
  }
  const all = async (): Promise<Array<BatchRecord>> => {
    let names: Array<string>
    try {
      names = await Fs.readdir(root)
    } catch (e) {
      if (missing(e)) return []
      throw e
    }
    const out: Array<BatchRecord> = []
    for (const name of names) {
      const m = /^([a-z0-9]{1,40})\.json$/.exec(name)
      if (m === null) continue
      const r = await readRecord(m[1]!)
      if (r === undefined) continue
      if (terminal(r.state) && (r.endedAt ?? r.updatedAt) + ttlMs <= Date.now()) {
        for (const p of [recordPath(r.id), itemsPath(r.id), resultsPath(r.id)]) await Fs.rm(p, { force: true })
        continue
      }
      out.push(r)
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
  }
  return {
    create: (record, items) =>
      Effect.tryPromise({
        try: async () => {
          await Fs.mkdir(root, { recursive: true, mode: 0o700 })
          await Fs.writeFile(itemsPath(record.id), items.map((i) => `${JSON.stringify(i)}\n`).join(""), { mode: 0o600 })
          await writeRecord(record)
        },
        catch: fail("cannot write the batch"),
      }),
    load: (id) => Effect.tryPromise({ try: () => readRecord(id), catch: fail("cannot read the batch") }),
    get: (owner, id) =>
      Effect.tryPromise({
        try: async () => {
          const r = await readRecord(id)
          return r !== undefined && r.owner === owner ? r : undefined
        },
        catch: fail("cannot read the batch"),
      }),
    list: (owner) =>
      Effect.tryPromise({
        try: async () => (await all()).filter((r) => r.owner === owner),
        catch: fail("cannot list the batches"),
      }),
    unfinished: Effect.tryPromise({
      try: async () => (await all()).filter((r) => !terminal(r.state)),
      catch: fail("cannot list the batches"),
    }),
    update: (id, f) =>
      Effect.tryPromise({
        try: () =>
          locked(id, async () => {
            const r = await readRecord(id)
            if (r === undefined) return undefined
            const next = f(r)
            await writeRecord(next)
            return next
          }),
        catch: fail("cannot update the batch"),
      }),
    remove: (id) =>
      Effect.tryPromise({
        try: () =>
          locked(id, async () => {
            if (!isId(id)) return
            for (const p of [recordPath(id), itemsPath(id), resultsPath(id)]) await Fs.rm(p, { force: true })
          }),
        catch: fail("cannot delete the batch"),
      }),
    items: (id) =>
      Effect.tryPromise({ try: () => readLines<Item>(itemsPath(id)), catch: fail("cannot read the batch") }),
    results: (id) =>
      Effect.tryPromise({ try: () => readLines<Result>(resultsPath(id)), catch: fail("cannot read the batch") }),
    appendResult: (id, result) =>
      Effect.tryPromise({
        try: () => locked(id, () => Fs.appendFile(resultsPath(id), `${JSON.stringify(result)}\n`, { mode: 0o600 })),
        catch: fail("cannot write the batch"),
      }),
  }
}
