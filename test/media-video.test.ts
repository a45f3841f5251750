/**
 * Veo through the gateway with @google/genai: `models.generateVideos` (predictLongRunning),
 * `operations.getVideosOperation` polled to the end, `files.download` of the video — from a strict
 * Veo mock upstream and from the built-in mock model. The video is the upstream's, downloaded by
 * the gateway with its own key (never sent on to the signed redirect) and served from a gateway
 * URI that names no upstream and carries no key. Operations and videos belong to the key that
 * created them (another key gets 404); keys, allow-lists, rate limits and budgets apply to the job,
 * and its spend is recorded when it ends.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ApiError, type GenerateVideosOperation, GoogleGenAI } from "@google/genai"
import OpenAI from "openai"
import { GeminiUpstream, GeminiVeoUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const keys = {
  alice: "sk-video-alice-0123456789abcdef",
  bob: "sk-video-bob-0123456789abcdef",
  narrow: "sk-video-narrow-0123456789abcdef",
  rpm1: "sk-video-rpm1-0123456789abcdef",
  rich: "sk-video-rich-0123456789abcdef",
  broke: "sk-video-broke-0123456789abcdef",
}

let gw: RunningGateway
let gemini: GeminiUpstream.GeminiMock
let veo: GeminiVeoUpstream.Veo
let dir: string

beforeAll(async () => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-video-"))
  gemini = await GeminiUpstream.start({ apiKey: "g-up-secret" })
  veo = GeminiVeoUpstream.install(gemini, { apiKey: "g-up-secret", pollsUntilDone: 2 })
  gw = await startGateway({
    ingress: { gemini: { publicUrl: "https://gateway.test" } },
    providers: {
      gem: { type: "gemini", baseUrl: gemini.url, apiKey: "g-up-secret", options: { videoPollInterval: 5 } },
      fake: { type: "mock" },
      oai: { type: "openai", baseUrl: "http://127.0.0.1:9/v1", apiKey: "o-up" },
    },
    models: {
      veo: { provider: "gem", model: "veo-3.1-generate-preview" },
      chatty: { provider: "oai", model: "gpt-4o-mini" },
      "mock-veo": { provider: "fake", model: "mock-veo" },
    },
    keys: [
      { name: "alice", key: keys.alice },
      { name: "bob", key: keys.bob },
      { name: "narrow", key: keys.narrow, models: ["mock-veo"] },
      { name: "rpm1", key: keys.rpm1, rateLimit: { rpm: 1 } },
      { name: "rich", key: keys.rich, budget: { usd: 100 } },
      { name: "broke", key: keys.broke, budget: { usd: 0 } },
    ],
    // Veo counts a second of video as an output token: $0.40 a second.
    prices: { veo: { input: 0, output: 400_000 }, "mock-veo": { input: 0, output: 400_000 } },
  })
})
afterAll(async () => {
  await gw?.close()
  await gemini?.close()
  Fs.rmSync(dir, { recursive: true, force: true })
})

const genai = (apiKey = keys.alice) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: gw.url } })

/** Poll as the docs do (their 10 s shortened): until done, or give up after many polls. */
const untilDone = async (ai: GoogleGenAI, op: GenerateVideosOperation) => {
  for (let i = 0; i < 1000 && !op.done; i++) {
    await new Promise((r) => setTimeout(r, 5))
    op = await ai.operations.getVideosOperation({ operation: op })
  }
  return op
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a failure")
    },
    (e: unknown) => e as ApiError,
  )

describe("Veo through the gateway", () => {
  it("generateVideos, polled to the end, downloaded: the upstream's video, from a gateway URI", async () => {
    const ai = genai()
    let op = await ai.models.generateVideos({
      model: "veo",
      prompt: "a cat surfing a wave",
      config: { durationSeconds: 8, aspectRatio: "16:9", negativePrompt: "rain" },
    })
    expect(op.name).toMatch(/^models\/veo\/operations\/[a-f0-9]{24}$/)
    expect(veo.bodies.at(-1)).toEqual({
      instances: [{ prompt: "a cat surfing a wave" }],
      parameters: { durationSeconds: 8, aspectRatio: "16:9", negativePrompt: "rain" },
    })
    op = await untilDone(ai, op)
    expect(op.done).toBe(true)
    expect(op.error).toBeUndefined()
    const generated = op.response?.generatedVideos?.[0]
    const uri = generated?.video?.uri ?? ""
    expect(uri).toMatch(/^https:\/\/gateway\.test\/v1beta\/files\/video[a-f0-9]{24}:download\?alt=media$/)
    expect(uri).not.toContain(String(gemini.port))

    const file = Path.join(dir, "cat.mp4")
    await ai.files.download({ file: generated!, downloadPath: file })
    // The SDK writes the file when its stream ends; wait for the bytes rather than a time.
    for (let i = 0; i < 1000 && (!Fs.existsSync(file) || Fs.statSync(file).size === 0); i++)
      await new Promise((r) => setTimeout(r, 5))
    const expected = GeminiVeoUpstream.videoFor("a cat surfing a wave")
    for (let i = 0; i < 1000 && Fs.statSync(file).size < expected.length; i++)
      await new Promise((r) => setTimeout(r, 5))
    expect(Fs.readFileSync(file)).toEqual(expected)
    // The gateway fetched it with its key, and followed the signed redirect without it.
    expect(veo.mediaFetches.at(-1)?.withKey).toBe(false)

    // curl's way: the URI's path on the gateway, with the key.
    const path = new URL(uri).pathname + new URL(uri).search
    const r = await fetch(`${gw.url}${path}`, { headers: { "x-goog-api-key": keys.alice } })
    expect(r.status).toBe(200)
    expect(r.headers.get("content-type")).toBe("video/mp4")
    expect(Buffer.from(await r.arrayBuffer())).toEqual(expected)
    const text = JSON.stringify(op)
    expect(text).not.toContain("g-up-secret")
  })

  it("another key gets 404 for the operation and the video; no key gets 401", async () => {
    let op = await genai().models.generateVideos({ model: "veo", prompt: "a private sunset" })
    op = await untilDone(genai(), op)
    // operations.get reads the same resource.
    const again = (await genai().operations.get({ operation: op })) as GenerateVideosOperation
    expect(again.done).toBe(true)
    expect(again.response?.generatedVideos?.[0]?.video?.uri).toBe(op.response?.generatedVideos?.[0]?.video?.uri)
    const e = await failure(genai(keys.bob).operations.getVideosOperation({ operation: op }))
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(404)
    const uri = new URL(op.response!.generatedVideos![0]!.video!.uri!)
    const r = await fetch(`${gw.url}${uri.pathname}${uri.search}`, { headers: { "x-goog-api-key": keys.bob } })
    expect(r.status).toBe(404)
    expect(((await r.json()) as any).error.status).toBe("NOT_FOUND")
    const anon = await fetch(`${gw.url}${uri.pathname}${uri.search}`)
    expect(anon.status).toBe(401)
    // An id that was never issued is a 404 too, for the owner as well.
    const g = await failure(
      genai().operations.getVideosOperation({
        operation: { ...op, name: "models/veo/operations/0123456789abcdef01234567" } as GenerateVideosOperation,
      }),
    )
    expect(g.status).toBe(404)
  })

  it("a safety-filtered job and a failed job end done, as Veo shows them", async () => {
    const filtered = await untilDone(
      genai(),
      await genai().models.generateVideos({ model: "veo", prompt: "an unsafe scene" }),
    )
    expect(filtered.done).toBe(true)
    expect(filtered.response?.generatedVideos).toBeUndefined()
    expect(filtered.response?.raiMediaFilteredCount).toBe(1)

    const failed = await untilDone(
      genai(),
      await genai().models.generateVideos({ model: "veo", prompt: "fail-job now" }),
    )
    expect(failed.done).toBe(true)
    expect(failed.error).toMatchObject({ code: 500, status: "INTERNAL" })
  })

  it("what Veo refuses is refused at once, in Google's error format", async () => {
    const e = await failure(
      genai().models.generateVideos({ model: "veo", prompt: "x", config: { durationSeconds: 5 } }),
    )
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(400)
    expect(e.message).toContain("duration 5s is not supported")

    // A model whose provider cannot make videos is refused at once too.
    const o = await failure(genai().models.generateVideos({ model: "chatty", prompt: "x" }))
    expect(o.status).toBe(400)
    expect(o.message).toContain("cannot generate videos")

    // Hand-written: two instances, which no SDK sends.
    const r = await fetch(`${gw.url}/v1beta/models/veo:predictLongRunning`, {
      method: "POST",
      headers: { "x-goog-api-key": keys.alice, "content-type": "application/json" },
      body: JSON.stringify({ instances: [{ prompt: "a" }, { prompt: "b" }] }),
    })
    expect(r.status).toBe(400)
    expect(((await r.json()) as any).error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" })
  })

  it("keys, allow-lists, rate limits and budgets apply to the job; its seconds are its spend", async () => {
    const narrow = await failure(genai(keys.narrow).models.generateVideos({ model: "veo", prompt: "x" }))
    expect(narrow.status).toBe(403)

    await genai(keys.rpm1).models.generateVideos({ model: "veo", prompt: "first" })
    const limited = await failure(genai(keys.rpm1).models.generateVideos({ model: "veo", prompt: "second" }))
    expect(limited.status).toBe(429)

    const broke = await failure(genai(keys.broke).models.generateVideos({ model: "veo", prompt: "x" }))
    expect(broke.status).toBe(403)

    const ai = genai(keys.rich)
    const op = await untilDone(
      ai,
      await ai.models.generateVideos({ model: "veo", prompt: "paid", config: { durationSeconds: 6 } }),
    )
    expect(op.response?.generatedVideos?.length).toBe(1)
    // The next request shows what was spent: 6 seconds at $0.40.
    const r = await fetch(`${gw.url}/v1beta/models/veo:predictLongRunning`, {
      method: "POST",
      headers: { "x-goog-api-key": keys.rich, "content-type": "application/json" },
      body: JSON.stringify({ instances: [{ prompt: "again" }], parameters: { durationSeconds: 4 } }),
    })
    expect(r.status).toBe(200)
    expect(Number(r.headers.get("x-sluice-budget-remaining-usd"))).toBeCloseTo(100 - 2.4, 6)
  })
})

describe("the built-in mock model makes videos", () => {
  it("through the same operation flow: a small MP4", async () => {
    const ai = genai()
    const op = await untilDone(ai, await ai.models.generateVideos({ model: "mock-veo", prompt: "a mock movie" }))
    const uri = new URL(op.response!.generatedVideos![0]!.video!.uri!)
    const r = await fetch(`${gw.url}${uri.pathname}${uri.search}`, { headers: { "x-goog-api-key": keys.alice } })
    const bytes = Buffer.from(await r.arrayBuffer())
    expect(bytes.subarray(4, 8).toString("ascii")).toBe("ftyp")
    const ftyp = bytes.readUInt32BE(0)
    expect(bytes.subarray(ftyp + 4, ftyp + 8).toString("ascii")).toBe("moov")
    expect(bytes.subarray(ftyp + 12, ftyp + 16).toString("ascii")).toBe("mvhd")
    const other = await untilDone(ai, await ai.models.generateVideos({ model: "mock-veo", prompt: "another movie" }))
    const u2 = new URL(other.response!.generatedVideos![0]!.video!.uri!)
    const r2 = await fetch(`${gw.url}${u2.pathname}${u2.search}`, { headers: { "x-goog-api-key": keys.alice } })
    expect(Buffer.from(await r2.arrayBuffer())).not.toEqual(bytes)
  })
})

describe("the OpenAI-shaped /v1/videos front", () => {
  const oai = (apiKey = keys.alice) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 })
  const untilSettled = async (client: OpenAI, id: string) => {
    let v = await client.videos.retrieve(id)
    for (let i = 0; i < 1000 && (v.status === "queued" || v.status === "in_progress"); i++) {
      await new Promise((r) => setTimeout(r, 5))
      v = await client.videos.retrieve(id)
    }
    return v
  }

  it("videos.create on Veo, retrieved to completed, content downloaded; another key gets 404", async () => {
    const created = await oai().videos.create({
      model: "veo" as never,
      prompt: "a lighthouse at dawn",
      seconds: "8",
      size: "1280x720",
    })
    expect(created).toMatchObject({
      object: "video",
      model: "veo",
      status: "in_progress",
      seconds: "8",
      size: "1280x720",
    })
    expect(created.id).toMatch(/^video_[a-f0-9]{24}$/)
    expect(veo.bodies.at(-1)).toEqual({
      instances: [{ prompt: "a lighthouse at dawn" }],
      parameters: { sampleCount: 1, durationSeconds: 8, aspectRatio: "16:9", resolution: "720p" },
    })
    const done = await untilSettled(oai(), created.id)
    expect(done).toMatchObject({ status: "completed", progress: 100, error: null })
    const content = await oai().videos.downloadContent(created.id)
    expect(Buffer.from(await content.arrayBuffer())).toEqual(GeminiVeoUpstream.videoFor("a lighthouse at dawn"))

    const e = await oai(keys.bob)
      .videos.retrieve(created.id)
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.NotFoundError)
    const thumb = await oai()
      .videos.downloadContent(created.id, { variant: "thumbnail" })
      .catch((x: unknown) => x)
    expect(thumb).toBeInstanceOf(OpenAI.NotFoundError)

    const deleted = await oai().videos.delete(created.id)
    expect(deleted).toEqual({ id: created.id, object: "video.deleted", deleted: true })
    expect(
      await oai()
        .videos.retrieve(created.id)
        .catch((x: unknown) => x),
    ).toBeInstanceOf(OpenAI.NotFoundError)
  })

  it("a failed job is status failed with an error; bad sizes are 400s naming the field", async () => {
    const created = await oai().videos.create({ model: "veo" as never, prompt: "fail-job please" })
    const v = await untilSettled(oai(), created.id)
    expect(v.status).toBe("failed")
    expect(v.error?.message).toContain("internal error")
    const e = await oai()
      .videos.create({ model: "veo" as never, prompt: "x", size: "640x480" as never })
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("size")
  })
})

describe("tracing covers the whole job", () => {
  it("the request's GenAI span ends when the video is in, with its seconds as usage and the attempt as child", async () => {
    const { createServer } = await import("node:http")
    const bodies: Array<string> = []
    const collector = createServer((req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => {
        body += c.toString("utf8")
      })
      req.on("end", () => {
        if (req.url === "/v1/traces") bodies.push(body)
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r))
    const port = (collector.address() as { port: number }).port
    const traced = await startGateway({
      providers: {
        gem: { type: "gemini", baseUrl: gemini.url, apiKey: "g-up-secret", options: { videoPollInterval: 5 } },
      },
      models: { veo: { provider: "gem", model: "veo-3.1-generate-preview" } },
      tracing: { exporter: "otlp", endpoint: `http://127.0.0.1:${port}`, serviceName: "sluice-video" },
    })
    try {
      const ai = new GoogleGenAI({
        apiKey: "anyone",
        httpOptions: {
          baseUrl: traced.url,
          headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
        },
      })
      const op = await untilDone(
        ai,
        await ai.models.generateVideos({ model: "veo", prompt: "traced", config: { durationSeconds: 4 } }),
      )
      expect(op.response?.generatedVideos?.length).toBe(1)
    } finally {
      await traced.close() // flushes the batch span processor
      await new Promise((r) => collector.close(r))
    }
    type Span = {
      spanId: string
      parentSpanId?: string
      traceId: string
      name: string
      kind: number
      attributes: Array<{ key: string; value: Record<string, unknown> }>
    }
    const spans: Array<Span> = bodies
      .flatMap((b) => JSON.parse(b).resourceSpans)
      .flatMap((rs: { scopeSpans: Array<{ spans: Array<Span> }> }) => rs.scopeSpans.flatMap((ss) => ss.spans))
    const job = spans.find((s) => s.kind === 2 && s.name === "chat veo")
    expect(job).toBeDefined()
    expect(job!.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
    const usage = job!.attributes.find((a) => a.key === "gen_ai.usage.output_tokens")?.value
    expect(Number(usage?.intValue)).toBe(4)
    expect(spans.filter((s) => s.name === "sluice.attempt" && s.parentSpanId === job!.spanId)).toHaveLength(1)
  })
})
