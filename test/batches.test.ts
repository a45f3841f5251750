/**
 * Batches end to end with the official SDKs: @google/genai's batches.create (inlined requests,
 * and a JSONL file uploaded with files.upload) / get / list / cancel / delete and openai's
 * batches.create over files.create with the output and error files read back. The gateway runs
 * every item itself through its pipeline: the mock model, an OpenAI upstream for a Gemini
 * client (translation), the key's rate limit; a malformed line is reported by its number in the
 * error output and the rest of the batch runs; another key sees nothing.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { GoogleGenAI, JobState } from "@google/genai"
import OpenAI, { toFile } from "openai"
import { GeminiUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

let gw: SluiceProcess
let upstream: OpenAIUpstream.OpenAIUpstream
let gemini: GeminiUpstream.GeminiMock
let dir: string

const ALICE = "key-alice-0123456789"
const BOB = "key-bob-0123456789"
const LIMITED = "key-limited-0123456789"
const SPENDER = "key-spender-0123456789"
const ADMIN = "admin-key-0123456789abcdef"

beforeAll(async () => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-batches-"))
  upstream = await OpenAIUpstream.start({ apiKey: "o-up" })
  gemini = await GeminiUpstream.start({ apiKey: "g-up" })
  gw = await startSluice(
    JSON.stringify({
      providers: {
        oai: { type: "openai", baseUrl: upstream.baseUrl, apiKey: "o-up" },
        gem: { type: "gemini", baseUrl: gemini.url, apiKey: "g-up" },
        fake: { type: "mock" },
      },
      models: {
        mock: { provider: "fake", model: "mock" },
        "gpt-4o-mini": { provider: "oai", model: "gpt-4o-mini" },
        flash: { provider: "gem", model: "gemini-2.5-flash" },
      },
      keys: [
        { name: "alice", key: ALICE },
        { name: "bob", key: BOB },
        { name: "limited", key: LIMITED, rateLimit: { rpm: 3 } },
        { name: "spender", id: "spender", key: SPENDER, budget: { usd: 100, period: "monthly" } },
      ],
      admin: { key: ADMIN },
      prices: { mock: { input: 1, output: 2 } },
      budgets: {},
      files: { dir },
      batches: { concurrency: 2, itemRetries: 0 },
    }),
  )
})
afterAll(async () => {
  await gw?.stop()
  await upstream?.close()
  await gemini?.close()
  if (dir) Fs.rmSync(dir, { recursive: true, force: true })
})

const genai = (key = ALICE) => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gw.url } })
const oai = (key = ALICE) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Poll until `done` says so (at most ~30 s). */
const until = async <A>(get: () => Promise<A>, done: (a: A) => boolean): Promise<A> => {
  for (let i = 0; i < 300; i++) {
    const a = await get()
    if (done(a)) return a
    await sleep(100)
  }
  throw new Error("timed out waiting")
}

const finished = (s: JobState | undefined) =>
  s === JobState.JOB_STATE_SUCCEEDED || s === JobState.JOB_STATE_CANCELLED || s === JobState.JOB_STATE_FAILED

describe("Gemini batches", () => {
  it("inlined requests run through the gateway; get, list and the inline responses", async () => {
    const ai = genai()
    const job = await ai.batches.create({
      model: "mock",
      src: [
        { contents: [{ role: "user", parts: [{ text: "first" }] }], metadata: { key: "a" } },
        { contents: [{ role: "user", parts: [{ text: "second" }] }], metadata: { key: "b" } },
      ],
      config: { displayName: "two" },
    })
    expect(job.name).toMatch(/^batches\/[a-z0-9]+$/)
    expect(job).toMatchObject({ displayName: "two", model: "models/mock" })
    const done = await until(
      () => ai.batches.get({ name: job.name! }),
      (j) => finished(j.state),
    )
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED)
    const responses = done.dest?.inlinedResponses ?? []
    expect(responses.map((r) => r.response?.candidates?.[0]?.content?.parts?.[0]?.text)).toEqual([
      "echo: first",
      "echo: second",
    ])
    const listed: Array<string> = []
    for await (const j of await ai.batches.list()) listed.push(j.name!)
    expect(listed).toContain(job.name)

    await expect(genai(BOB).batches.get({ name: job.name! })).rejects.toMatchObject({ status: 404 })
    await ai.batches.delete({ name: job.name! })
    await expect(ai.batches.get({ name: job.name! })).rejects.toMatchObject({ status: 404 })
  })

  it("a Gemini batch to an OpenAI upstream is translated item by item", async () => {
    const ai = genai()
    const before = upstream.chatBodies().length
    const job = await ai.batches.create({
      model: "gpt-4o-mini",
      src: [{ contents: [{ role: "user", parts: [{ text: "hello upstream" }] }] }],
    })
    const done = await until(
      () => ai.batches.get({ name: job.name! }),
      (j) => finished(j.state),
    )
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED)
    const sent = upstream.chatBodies().slice(before)
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello upstream" }] })
    expect(done.dest?.inlinedResponses?.[0]?.response?.candidates?.[0]?.content?.parts?.[0]?.text).toBeTruthy()
  })

  it("a JSONL input file: results in a generated file; a malformed line is reported, the rest runs", async () => {
    const ai = genai()
    const lines = [
      JSON.stringify({ key: "one", request: { contents: [{ role: "user", parts: [{ text: "uno" }] }] } }),
      "{not json",
      JSON.stringify({ key: "three", request: { contents: [{ role: "user", parts: [{ text: "tres" }] }] } }),
    ].join("\n")
    const input = await ai.files.upload({ file: new Blob([lines], { type: "application/jsonl" }) })
    const job = await ai.batches.create({ model: "mock", src: input.name! })
    const done = await until(
      () => ai.batches.get({ name: job.name! }),
      (j) => finished(j.state),
    )
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED)
    const fileName = done.dest?.fileName
    expect(fileName).toMatch(/^files\/[a-z0-9]+$/)
    const r = await fetch(`${gw.url}/v1beta/files/${fileName!.slice(6)}:download?alt=media`, {
      headers: { "x-goog-api-key": ALICE },
    })
    expect(r.status).toBe(200)
    const out = (await r.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(out).toHaveLength(3)
    expect(out[0]).toMatchObject({
      key: "one",
      response: { candidates: [{ content: { parts: [{ text: "echo: uno" }] } }] },
    })
    expect(out[1]).toMatchObject({ error: { code: 400, message: "line 2: not valid JSON" } })
    expect(out[2]).toMatchObject({
      key: "three",
      response: { candidates: [{ content: { parts: [{ text: "echo: tres" }] } }] },
    })
    // The results file is the owner's alone.
    const foreign = await fetch(`${gw.url}/v1beta/files/${fileName!.slice(6)}:download?alt=media`, {
      headers: { "x-goog-api-key": BOB },
    })
    expect(foreign.status).toBe(404)
  })

  it("cancel stops a running batch; what finished is kept", async () => {
    const ai = genai()
    const src = Array.from({ length: 12 }, (_, i) => ({
      contents: [{ role: "user", parts: [{ text: `slow ${i} delay:150` }] }],
    }))
    const job = await ai.batches.create({ model: "mock", src })
    await ai.batches.cancel({ name: job.name! })
    const done = await until(
      () => ai.batches.get({ name: job.name! }),
      (j) => finished(j.state),
    )
    expect(done.state).toBe(JobState.JOB_STATE_CANCELLED)
    expect((done.dest?.inlinedResponses ?? []).length).toBeLessThan(12)
  })

  it("a batch's items count against the key's rate limit", async () => {
    const ai = genai(LIMITED)
    const job = await ai.batches.create({
      model: "mock",
      src: [1, 2, 3].map((i) => ({ contents: [{ role: "user", parts: [{ text: `item ${i}` }] }] })),
    })
    const done = await until(
      () => ai.batches.get({ name: job.name! }),
      (j) => finished(j.state),
    )
    expect(done.dest?.inlinedResponses?.filter((r) => r.response !== undefined)).toHaveLength(3)
    // The three items spent the key's 3 requests a minute: the next request is refused.
    await expect(ai.models.generateContent({ model: "mock", contents: "one more" })).rejects.toMatchObject({
      status: 429,
    })
  })
})

describe("batches and budgets", () => {
  it("each item's usage and spend is recorded against the key that created the batch", async () => {
    const ai = genai(SPENDER)
    const job = await ai.batches.create({
      model: "mock",
      src: ["red", "green", "blue"].map((t) => ({ contents: [{ role: "user", parts: [{ text: t }] }] })),
    })
    const done = await until(
      () => ai.batches.get({ name: job.name! }),
      (j) => finished(j.state),
    )
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED)
    const r = await fetch(`${gw.url}/admin/keys/spender/usage`, { headers: { authorization: `Bearer ${ADMIN}` } })
    expect(r.status).toBe(200)
    const usage = (
      (await r.json()) as { usage: Record<string, { requests: number; usd: number; outputTokens: number }> }
    ).usage.monthly!
    expect(usage.requests).toBe(3)
    expect(usage.outputTokens).toBeGreaterThan(0)
    expect(usage.usd).toBeGreaterThan(0)
  })
})

describe("OpenAI batches", () => {
  it("runs the lines of an input file; output and error files, a malformed line named by its number", async () => {
    const client = oai()
    const line = (id: string, text: string) =>
      JSON.stringify({
        custom_id: id,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "mock", messages: [{ role: "user", content: text }] },
      })
    const jsonl = [
      line("r1", "alpha"),
      "not json at all",
      JSON.stringify({ custom_id: "r3", method: "POST", url: "/v1/embeddings", body: {} }),
      line("r4", "omega"),
      line("r5", "to an unknown model").replace('"mock"', '"no-such-model"'),
    ].join("\n")
    const input = await client.files.create({ file: await toFile(Buffer.from(jsonl), "in.jsonl"), purpose: "batch" })
    const batch = await client.batches.create({
      input_file_id: input.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { run: "test" },
    })
    expect(batch).toMatchObject({ object: "batch", input_file_id: input.id, metadata: { run: "test" } })
    expect(batch.id).toMatch(/^batch_[a-z0-9]+$/)
    const done = await until(
      () => client.batches.retrieve(batch.id),
      (b) => b.status === "completed",
    )
    expect(done.request_counts).toEqual({ total: 5, completed: 2, failed: 3 })
    const output = (await (await client.files.content(done.output_file_id!)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(
      output.map((o) => [o.custom_id, o.response.status_code, o.response.body.choices[0].message.content]),
    ).toEqual([
      ["r1", 200, "echo: alpha"],
      ["r4", 200, "echo: omega"],
    ])
    const errors = (await (await client.files.content(done.error_file_id!)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(errors).toHaveLength(3)
    expect(errors[0]).toMatchObject({ response: null, error: { message: "line 2: not valid JSON", line: 2 } })
    expect(errors[1]).toMatchObject({
      custom_id: "r3",
      error: { message: expect.stringContaining("line 3: url must be") },
    })
    expect(errors[2]).toMatchObject({ custom_id: "r5", response: { status_code: 404 }, error: null })
    expect(done.errors?.data?.map((e) => e.line)).toEqual([2, 3])

    const listed: Array<string> = []
    for await (const b of client.batches.list()) listed.push(b.id)
    expect(listed).toContain(batch.id)
    await expect(oai(BOB).batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 })
    await expect(oai(BOB).files.content(done.output_file_id!)).rejects.toMatchObject({ status: 404 })
  })

  it("an OpenAI batch to a Gemini upstream is translated line by line", async () => {
    const client = oai()
    const before = gemini.generateBodies().length
    const jsonl = ["uno", "dos"]
      .map((t, i) =>
        JSON.stringify({
          custom_id: `g${i}`,
          method: "POST",
          url: "/v1/chat/completions",
          body: { model: "flash", messages: [{ role: "user", content: t }] },
        }),
      )
      .join("\n")
    const input = await client.files.create({ file: await toFile(Buffer.from(jsonl), "g.jsonl"), purpose: "batch" })
    const batch = await client.batches.create({
      input_file_id: input.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    })
    const done = await until(
      () => client.batches.retrieve(batch.id),
      (b) => b.status === "completed",
    )
    expect(done.request_counts).toEqual({ total: 2, completed: 2, failed: 0 })
    const sent = gemini.generateBodies().slice(before)
    expect(
      sent
        .map((b) => (b as { contents: Array<{ parts: Array<{ text: string }> }> }).contents[0]!.parts[0]!.text)
        .sort(),
    ).toEqual(["dos", "uno"])
    const output = (await (await client.files.content(done.output_file_id!)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(
      output.map((o) => [o.custom_id, o.response.body.object, o.response.body.choices[0].message.content]),
    ).toEqual([
      ["g0", "chat.completion", "Echo: uno"],
      ["g1", "chat.completion", "Echo: dos"],
    ])
  })

  it("an unknown input file is a 404 and a bad endpoint a 400, in OpenAI's shape", async () => {
    await expect(
      oai().batches.create({
        input_file_id: "file-nosuchfile",
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      }),
    ).rejects.toMatchObject({ status: 404, error: { message: "No such File object: file-nosuchfile" } })
    const input = await oai().files.create({ file: await toFile(Buffer.from("{}"), "x.jsonl"), purpose: "batch" })
    await expect(
      oai().batches.create({ input_file_id: input.id, endpoint: "/v1/completions", completion_window: "24h" }),
    ).rejects.toMatchObject({ status: 400, error: { param: "endpoint" } })
  })
})
