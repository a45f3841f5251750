import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as BatchStore from "../src/BatchStore.ts"
import * as LocalFileStore from "../src/LocalFileStore.ts"

const dirs: Array<string> = []
const tmp = () => {
  const d = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-store-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) Fs.rmSync(d, { recursive: true, force: true })
})

const file = (owner: string) =>
  ({ owner, displayName: "a.txt", mimeType: "text/plain", purpose: "user_data", source: "UPLOADED" }) as const

describe("LocalFileStore", () => {
  it("keeps files per owner, expires them, and only its own ids become paths", async () => {
    let now = 1_000
    const dir = tmp()
    const store = await Effect.runPromise(LocalFileStore.make({ dir, maxBytes: 100, ttlMs: 500, now: () => now }))
    const f = await Effect.runPromise(store.put(file("a"), new TextEncoder().encode("hello")))
    expect(f).toMatchObject({ bytes: 5, createdAt: 1_000, expiresAt: 1_500 })
    expect(await Effect.runPromise(store.get("b", f.id))).toBeUndefined()
    expect(new TextDecoder().decode(await Effect.runPromise(store.read("a", f.id)))).toBe("hello")
    expect(await Effect.runPromise(store.get("a", "../files/x"))).toBeUndefined()
    expect((await Effect.runPromise(store.list("a"))).map((r) => r.id)).toEqual([f.id])
    expect(await Effect.runPromise(store.list("b"))).toEqual([])
    now = 1_500
    expect(await Effect.runPromise(store.get("a", f.id))).toBeUndefined()
    expect(Fs.existsSync(Path.join(dir, "files", `${f.id}.bin`))).toBe(false)
  })

  it("a resumable upload takes chunks at their offsets and nothing past its size", async () => {
    const store = await Effect.runPromise(LocalFileStore.make({ dir: tmp(), maxBytes: 100, ttlMs: 60_000 }))
    const s = await Effect.runPromise(store.startUpload(file("a"), 4))
    const bytes = (t: string) => new TextEncoder().encode(t)
    const wrong = await Effect.runPromise(Effect.flip(store.append("a", s.id, 1, bytes("ab"))))
    expect(wrong).toMatchObject({ _tag: "UploadMismatch" })
    expect(await Effect.runPromise(Effect.flip(store.append("b", s.id, 0, bytes("ab"))))).toMatchObject({
      message: "no such upload session",
    })
    await Effect.runPromise(store.append("a", s.id, 0, bytes("ab")))
    expect(await Effect.runPromise(Effect.flip(store.finish("a", s.id)))).toMatchObject({ _tag: "UploadMismatch" })
    expect(await Effect.runPromise(Effect.flip(store.append("a", s.id, 2, bytes("cde"))))).toMatchObject({
      _tag: "UploadMismatch",
    })
    await Effect.runPromise(store.append("a", s.id, 2, bytes("cd")))
    const done = await Effect.runPromise(store.finish("a", s.id))
    expect(new TextDecoder().decode(await Effect.runPromise(store.read("a", done.id)))).toBe("abcd")
    expect(await Effect.runPromise(store.uploadOf("a", s.id))).toBeUndefined()
  })

  it("an upload left unfinished is dropped after the files' lifetime", async () => {
    let now = 0
    const dir = tmp()
    const store = await Effect.runPromise(LocalFileStore.make({ dir, maxBytes: 100, ttlMs: 1_000_000, now: () => now }))
    const s = await Effect.runPromise(store.startUpload(file("a"), 4))
    now = 1_000_000
    // The next upload's start sweeps the abandoned one.
    await Effect.runPromise(store.startUpload(file("b"), 4))
    expect(Fs.existsSync(Path.join(dir, "uploads", `${s.id}.part`))).toBe(false)
    expect(await Effect.runPromise(store.uploadOf("a", s.id))).toBeUndefined()
  })
})

describe("BatchStore", () => {
  it("forgets a finished batch once it ended ttl ago; keeps unfinished ones", async () => {
    const store = BatchStore.make(tmp(), 1_000)
    const base = {
      owner: "a",
      format: "gemini" as const,
      createdAt: 0,
      updatedAt: 0,
      total: 1,
      succeeded: 0,
      failed: 0,
      inputTokens: 0,
      outputTokens: 0,
    }
    await Effect.runPromise(store.create({ ...base, id: "old", state: "succeeded", endedAt: Date.now() - 2_000 }, []))
    await Effect.runPromise(store.create({ ...base, id: "fresh", state: "succeeded", endedAt: Date.now() }, []))
    await Effect.runPromise(store.create({ ...base, id: "running", state: "running" }, []))
    expect((await Effect.runPromise(store.list("a"))).map((r) => r.id).sort()).toEqual(["fresh", "running"])
    expect((await Effect.runPromise(store.unfinished)).map((r) => r.id)).toEqual(["running"])
  })
})
