/**
 * The file store in a local directory: `<dir>/files/<id>.json` (the record) and `<id>.bin` (the
 * content), uploads in progress under `<dir>/uploads/`. Only ids minted by the store ever become
 * a path. Expired files are removed when they are next looked at and by a sweep on each listing.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Effect } from "effect"
import {
  type FileRecord,
  type FileStore,
  FileStoreError,
  isId,
  type NewFile,
  newId,
  sha256Base64,
  UploadMismatch,
  type UploadSession,
} from "./FileStore.ts"

export interface Options {
  readonly dir: string
  readonly maxBytes: number
  readonly ttlMs: number
  /** The clock (tests). */
  readonly now?: (() => number) | undefined
}

const fail = (what: string) => (e: unknown) =>
  new FileStoreError({
    reason: `${what}: ${e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.name) : "error"}`,
  })

const missing = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT"

/** Write a file whole or not at all (a reader never sees half a record). */
const writeAtomic = async (path: string, data: string | Uint8Array) => {
  const tmp = `${path}.${process.pid}.${newId(8)}.tmp`
  await Fs.writeFile(tmp, data, { mode: 0o600 })
  await Fs.rename(tmp, path)
}

const readJson = async <A>(path: string): Promise<A | undefined> => {
  try {
    return JSON.parse(await Fs.readFile(path, "utf8")) as A
  } catch (e) {
    if (missing(e) || e instanceof SyntaxError) return undefined
    throw e
  }
}

interface StoredSession extends UploadSession {
  readonly createdAt: number
}

export const make = (options: Options): Effect.Effect<FileStore> =>
  Effect.sync(() => {
    const now = options.now ?? Date.now
    const filesDir = Path.resolve(options.dir, "files")
    const uploadsDir = Path.resolve(options.dir, "uploads")
    // The directories are made on the first write: a gateway that stores nothing leaves no trace.
    let made = false
    const mkdirs = async () => {
      if (made) return
      await Fs.mkdir(filesDir, { recursive: true, mode: 0o700 })
      await Fs.mkdir(uploadsDir, { recursive: true, mode: 0o700 })
      made = true
    }
    const recordPath = (id: string) => Path.join(filesDir, `${id}.json`)
    const dataPath = (id: string) => Path.join(filesDir, `${id}.bin`)
    const sessionPath = (id: string) => Path.join(uploadsDir, `${id}.json`)
    const partPath = (id: string) => Path.join(uploadsDir, `${id}.part`)

    const removeFiles = async (id: string) => {
      await Fs.rm(recordPath(id), { force: true })
      await Fs.rm(dataPath(id), { force: true })
    }

    /** The record if it exists, is the owner's and is not expired (an expired one is removed). */
    const live = async (owner: string, id: string): Promise<FileRecord | undefined> => {
      if (!isId(id)) return undefined
      const record = await readJson<FileRecord>(recordPath(id))
      if (record === undefined || record.owner !== owner) return undefined
      if (record.expiresAt <= now()) {
        await removeFiles(id)
        return undefined
      }
      return record
    }

    const write = async (file: NewFile, data: Uint8Array, id = newId()): Promise<FileRecord> => {
      await mkdirs()
      const created = now()
      const record: FileRecord = {
        id,
        owner: file.owner,
        displayName: file.displayName,
        mimeType: file.mimeType,
        purpose: file.purpose,
        source: file.source,
        bytes: data.byteLength,
        sha256: sha256Base64(data),
        createdAt: created,
        expiresAt: created + Math.min(file.ttlMs ?? options.ttlMs, options.ttlMs),
      }
      await writeAtomic(dataPath(id), data)
      await writeAtomic(recordPath(id), JSON.stringify(record))
      return record
    }

    const session = async (owner: string, id: string): Promise<StoredSession | undefined> => {
      if (!isId(id)) return undefined
      const s = await readJson<StoredSession>(sessionPath(id))
      if (s === undefined) return undefined
      // An upload left unfinished is dropped after the files' own lifetime.
      if (s.createdAt + options.ttlMs <= now()) {
        await Fs.rm(sessionPath(id), { force: true })
        await Fs.rm(partPath(id), { force: true })
        return undefined
      }
      return s.owner === owner ? s : undefined
    }

    // Uploads started and never finished are swept now and then (at most every 10 minutes).
    let sweptAt = 0
    const sweepUploads = async () => {
      const t = now()
      if (t - sweptAt < 600_000) return
      sweptAt = t
      for (const name of await Fs.readdir(uploadsDir)) {
        const m = /^([a-z0-9]{1,40})\.json$/.exec(name)
        if (m !== null) await session("", m[1]!).catch(() => undefined)
      }
    }

    const store: FileStore = {
      maxBytes: options.maxBytes,
      put: (file, data) => Effect.tryPromise({ try: () => write(file, data), catch: fail("cannot write the file") }),
      get: (owner, id) => Effect.tryPromise({ try: () => live(owner, id), catch: fail("cannot read the file") }),
      read: (owner, id) =>
        Effect.tryPromise({
          try: async () => {
            const record = await live(owner, id)
            if (record === undefined) return undefined
            try {
              return new Uint8Array(await Fs.readFile(dataPath(id)))
            } catch (e) {
              if (missing(e)) return undefined
              throw e
            }
          },
          catch: fail("cannot read the file"),
        }),
      list: (owner) =>
        Effect.tryPromise({
          try: async () => {
            const out: Array<FileRecord> = []
            const t = now()
            let names: Array<string>
            try {
              names = await Fs.readdir(filesDir)
            } catch (e) {
              if (missing(e)) return out
              throw e
            }
            for (const name of names) {
              if (!name.endsWith(".json")) continue
              const id = name.slice(0, -5)
              if (!isId(id)) continue
              const record = await readJson<FileRecord>(recordPath(id))
              if (record === undefined) continue
              if (record.expiresAt <= t) {
                await removeFiles(id)
                continue
              }
              if (record.owner === owner) out.push(record)
            }
            return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
          },
          catch: fail("cannot list the files"),
        }),
      remove: (owner, id) =>
        Effect.tryPromise({
          try: async () => {
            const record = await live(owner, id)
            if (record === undefined) return false
            await removeFiles(id)
            return true
          },
          catch: fail("cannot delete the file"),
        }),
      startUpload: (file, total) =>
        Effect.tryPromise({
          try: async () => {
            await mkdirs()
            await sweepUploads()
            const s: StoredSession = { id: newId(32), owner: file.owner, file, total, received: 0, createdAt: now() }
            await Fs.writeFile(partPath(s.id), new Uint8Array(0), { mode: 0o600 })
            await writeAtomic(sessionPath(s.id), JSON.stringify(s))
            return s
          },
          catch: fail("cannot start the upload"),
        }),
      uploadOf: (owner, id) =>
        Effect.tryPromise({ try: () => session(owner, id), catch: fail("cannot read the upload") }),
      append: (owner, id, offset, chunk) =>
        Effect.flatMap(
          Effect.tryPromise({ try: () => session(owner, id), catch: fail("cannot read the upload") }),
          (s): Effect.Effect<UploadSession, FileStoreError | UploadMismatch> => {
            if (s === undefined) return Effect.fail(new UploadMismatch({ message: "no such upload session" }))
            if (offset !== s.received)
              return Effect.fail(
                new UploadMismatch({
                  message: `X-Goog-Upload-Offset is ${offset}, but ${s.received} bytes were received so far`,
                }),
              )
            if (s.received + chunk.byteLength > s.total)
              return Effect.fail(
                new UploadMismatch({
                  message: `the upload is longer than the ${s.total} bytes announced at its start`,
                }),
              )
            return Effect.tryPromise({
              try: async () => {
                await Fs.appendFile(partPath(id), chunk)
                const next: StoredSession = { ...s, received: s.received + chunk.byteLength }
                await writeAtomic(sessionPath(id), JSON.stringify(next))
                return next
              },
              catch: fail("cannot write the upload"),
            })
          },
        ),
      finish: (owner, id) =>
        Effect.flatMap(
          Effect.tryPromise({ try: () => session(owner, id), catch: fail("cannot read the upload") }),
          (s): Effect.Effect<FileRecord, FileStoreError | UploadMismatch> => {
            if (s === undefined) return Effect.fail(new UploadMismatch({ message: "no such upload session" }))
            if (s.received !== s.total)
              return Effect.fail(
                new UploadMismatch({
                  message: `the upload was finalized after ${s.received} of the ${s.total} bytes announced`,
                }),
              )
            return Effect.tryPromise({
              try: async () => {
                const data = new Uint8Array(await Fs.readFile(partPath(id)))
                const record = await write(s.file, data)
                await Fs.rm(sessionPath(id), { force: true })
                await Fs.rm(partPath(id), { force: true })
                return record
              },
              catch: fail("cannot finish the upload"),
            })
          },
        ),
    }
    return store
  })
