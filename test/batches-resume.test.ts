/**
 * A batch survives a gateway restart mid-run and completes: the first gateway is shut down while
 * the batch runs, a second one on the same files directory (and the same Redis,
 * where BullMQ hands the batch back) finishes it — each item answered once, as the key that
 * created it (sealed with auth.credentialKeys). Also without Redis: the in-process queue resumes
 * unfinished batches at start.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { GoogleGenAI, JobState } from "@google/genai"
import { Redis } from "ioredis"
import { afterAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const ALICE = "key-alice-0123456789"
const prefix = `sluice-test-${process.pid}-${Date.now()}:`
const dirs: Array<string> = []
const running: Array<RunningGateway> = []

afterAll(async () => {
  for (const g of running) await g.close().catch(() => undefined)
  for (const d of dirs) Fs.rmSync(d, { recursive: true, force: true })
  const redis = new Redis("redis://127.0.0.1:6379", { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = "0"
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== "0")
  } finally {
    redis.disconnect()
  }
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const stats = async (url: string, name: string) => {
  const r = await fetch(`${url}/v1beta/${name}`, { headers: { "x-goog-api-key": ALICE } })
  const op = (await r.json()) as { metadata: { state: string; batchStats: { successfulRequestCount: string } } }
  return { state: op.metadata.state, done: Number(op.metadata.batchStats.successfulRequestCount) }
}

const until = async <A>(get: () => Promise<A>, ok: (a: A) => boolean): Promise<A> => {
  for (let i = 0; i < 600; i++) {
    const a = await get()
    if (ok(a)) return a
    await sleep(100)
  }
  throw new Error("timed out waiting")
}

const restartMidBatch = async (extra: Record<string, unknown>) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-resume-"))
  dirs.push(dir)
  const config = {
    providers: { fake: { type: "mock" } },
    models: { mock: { provider: "fake", model: "mock" } },
    keys: [{ name: "alice", key: ALICE }],
    auth: { credentialKeys: ["11".repeat(32)] },
    files: { dir },
    batches: { concurrency: 1, lockDuration: "2s" },
    ...extra,
  }
  const first = await startGateway(config)
  running.push(first)
  const ai = new GoogleGenAI({ apiKey: ALICE, httpOptions: { baseUrl: first.url } })
  const src = Array.from({ length: 8 }, (_, i) => ({
    contents: [{ role: "user", parts: [{ text: `item ${i} delay:200` }] }],
  }))
  const job = await ai.batches.create({ model: "mock", src })
  const before = await until(
    () => stats(first.url, job.name!),
    (s) => s.done >= 2,
  )
  await first.close()
  expect(before.done).toBeLessThan(8)

  const second = await startGateway(config)
  running.push(second)
  const ai2 = new GoogleGenAI({ apiKey: ALICE, httpOptions: { baseUrl: second.url } })
  const done = await until(
    () => ai2.batches.get({ name: job.name! }),
    (j) => j.state === JobState.JOB_STATE_SUCCEEDED || j.state === JobState.JOB_STATE_FAILED,
  )
  expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED)
  const texts = (done.dest?.inlinedResponses ?? []).map((r) => r.response?.candidates?.[0]?.content?.parts?.[0]?.text)
  expect(texts).toEqual(src.map((_, i) => `echo: item ${i} delay:200`))
  // Each item ran once: the batch's progress log has one line per item.
  const log = Fs.readFileSync(Path.join(dir, "batches", `${job.name!.slice(8)}.results.jsonl`), "utf8")
  expect(
    log
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).i)
      .sort((a: number, b: number) => a - b),
  ).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  await second.close()
}

describe("a batch in progress resumes after a restart", () => {
  it("on Redis (BullMQ): the next instance takes the batch back and completes it", async () => {
    await restartMidBatch({ redis: { url: "redis://127.0.0.1:6379", prefix } })
    // It went through BullMQ's queue under the gateway's Redis prefix.
    const redis = new Redis("redis://127.0.0.1:6379")
    try {
      expect((await redis.keys(`${prefix}bull:batches:*`)).length).toBeGreaterThan(0)
    } finally {
      redis.disconnect()
    }
  }, 60_000)

  it("without auth.credentialKeys the creating key is not recoverable: the rest is refused, saying why", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-resume-"))
    dirs.push(dir)
    const config = {
      providers: { fake: { type: "mock" } },
      models: { mock: { provider: "fake", model: "mock" } },
      keys: [{ name: "alice", key: ALICE }],
      files: { dir },
      batches: { concurrency: 1 },
    }
    const first = await startGateway(config)
    running.push(first)
    const ai = new GoogleGenAI({ apiKey: ALICE, httpOptions: { baseUrl: first.url } })
    const src = Array.from({ length: 8 }, (_, i) => ({
      contents: [{ role: "user", parts: [{ text: `k${i} delay:200` }] }],
    }))
    const job = await ai.batches.create({ model: "mock", src })
    await until(
      () => stats(first.url, job.name!),
      (s) => s.done >= 1,
    )
    await first.close()
    const second = await startGateway(config)
    running.push(second)
    const done = await until(
      () => new GoogleGenAI({ apiKey: ALICE, httpOptions: { baseUrl: second.url } }).batches.get({ name: job.name! }),
      (j) => j.state === JobState.JOB_STATE_SUCCEEDED,
    )
    const results = done.dest?.inlinedResponses ?? []
    expect(results).toHaveLength(8)
    const refused = results.filter((r) => r.error !== undefined)
    expect(refused.length).toBeGreaterThan(0)
    expect(JSON.stringify(refused[0]!.error)).toContain("auth.credentialKeys")
    await second.close()
  }, 60_000)

  it("in process: the restarted gateway resumes its unfinished batch", async () => {
    await restartMidBatch({})
  }, 60_000)
})
