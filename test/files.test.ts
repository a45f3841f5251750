/**
 * Files end to end with the official SDKs: @google/genai's files.upload (the resumable protocol)
 * / get / list / delete and openai's files.create / retrieve / list / content / delete against
 * the gateway's own store; a file named in a prompt reaches any upstream inline (the mock, and an
 * OpenAI upstream from a Gemini client); another key's files are 404; an oversized upload, an
 * unknown file and bad upload headers get a clear error in the client's format.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { GoogleGenAI } from "@google/genai"
import OpenAI, { toFile } from "openai"
import { OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type SluiceProcess, startSluice } from "./support/sluice-process.ts"

// A real `sluice start` process: in this process the SDK's upload chunks (Blob bodies with their
// own Content-Length) would meet the undici dispatcher an in-process gateway loads.
let gw: SluiceProcess
let upstream: OpenAIUpstream.OpenAIUpstream
let dir: string

const ALICE = "key-alice-0123456789"
const BOB = "key-bob-0123456789"

beforeAll(async () => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-files-"))
  upstream = await OpenAIUpstream.start({ apiKey: "o-up" })
  gw = await startSluice(
    JSON.stringify({
      providers: { oai: { type: "openai", baseUrl: upstream.baseUrl, apiKey: "o-up" }, fake: { type: "mock" } },
      models: { mock: { provider: "fake", model: "mock" }, "gpt-4o-mini": { provider: "oai", model: "gpt-4o-mini" } },
      keys: [
        { name: "alice", key: ALICE },
        { name: "bob", key: BOB },
      ],
      files: { dir, maxBytes: "64kb", inlineMaxBytes: "32kb" },
      ingress: { gemini: { pathPrefix: "/gw/gemini" } },
    }),
  )
})
afterAll(async () => {
  await gw?.stop()
  await upstream?.close()
  if (dir) Fs.rmSync(dir, { recursive: true, force: true })
})

const genai = (key = ALICE, base = gw.url) => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: base } })
const oai = (key = ALICE) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 })
const blob = (text: string, type = "text/plain") => new Blob([text], { type })
const withFile = (text: string, uri: string, mimeType = "text/plain") => [
  { role: "user", parts: [{ text }, { fileData: { fileUri: uri, mimeType } }] },
]

describe("Gemini Files API", () => {
  it("uploads (resumable), gets, lists and deletes; a prompt uses the file on any upstream", async () => {
    const ai = genai()
    const file = await ai.files.upload({ file: blob("the quick brown fox"), config: { displayName: "fox.txt" } })
    expect(file.name).toMatch(/^files\/[a-z0-9]+$/)
    expect(file).toMatchObject({ displayName: "fox.txt", mimeType: "text/plain", sizeBytes: "19", state: "ACTIVE" })
    expect(Date.parse(file.expirationTime!) - Date.parse(file.createTime!)).toBe(48 * 3_600_000)
    expect(file.uri).toBe(`${gw.url}/v1beta/files/${file.name!.slice(6)}`)

    expect(await ai.files.get({ name: file.name! })).toMatchObject({ name: file.name, sizeBytes: "19" })
    const listed: Array<string> = []
    for await (const f of await ai.files.list({ config: { pageSize: 1 } })) listed.push(f.name!)
    expect(listed).toContain(file.name)

    // The mock model says what it was given: the file arrived inline.
    const r = await ai.models.generateContent({ model: "mock", contents: withFile("summarize", file.uri!) })
    expect(r.text).toBe('echo: summarize [text/plain, 19 bytes: "the quick brown fox"]')

    // A Gemini client's file to an OpenAI upstream: a file part with the bytes as a data URL.
    const t = await ai.models.generateContent({ model: "gpt-4o-mini", contents: withFile("read it", file.uri!) })
    expect(t.text).toBeTruthy()
    const messages = upstream.chatBodies().at(-1)!.messages as Array<{ content: Array<Record<string, unknown>> }>
    expect(messages.at(-1)!.content).toContainEqual({
      type: "file",
      file: {
        file_data: `data:text/plain;base64,${Buffer.from("the quick brown fox").toString("base64")}`,
        filename: "document.txt",
      },
    })

    await ai.files.delete({ name: file.name! })
    await expect(ai.files.get({ name: file.name! })).rejects.toMatchObject({ status: 404 })
    await expect(
      ai.models.generateContent({ model: "mock", contents: withFile("again", file.uri!) }),
    ).rejects.toMatchObject({ status: 404 })
  })

  it("a file in several chunks; the upload URL and file URI keep the path prefix", async () => {
    const ai = genai(ALICE, `${gw.url}/gw/gemini`)
    const file = await ai.files.upload({ file: blob("x".repeat(40_000), "application/json") })
    expect(file.uri).toBe(`${gw.url}/gw/gemini/v1beta/files/${file.name!.slice(6)}`)
    expect(file.sizeBytes).toBe("40000")
    // Over files.inlineMaxBytes: the prompt is refused, saying why.
    const err = await ai.models
      .generateContent({ model: "mock", contents: withFile("big", file.uri!, "application/json") })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ status: 400 })
    expect(String((err as Error).message)).toContain("files.inlineMaxBytes")
  })

  it("another key sees none of it", async () => {
    const file = await genai().files.upload({ file: blob("alice only") })
    await expect(genai(BOB).files.get({ name: file.name! })).rejects.toMatchObject({ status: 404 })
    await expect(genai(BOB).files.delete({ name: file.name! })).rejects.toMatchObject({ status: 404 })
    const bobs: Array<string> = []
    for await (const f of await genai(BOB).files.list()) bobs.push(f.name!)
    expect(bobs).not.toContain(file.name)
    await expect(
      genai(BOB).models.generateContent({ model: "mock", contents: withFile("steal", file.uri!) }),
    ).rejects.toMatchObject({ status: 404 })
    // Without a key nothing is answered at all.
    expect((await fetch(`${gw.url}/v1beta/files/${file.name!.slice(6)}`)).status).toBe(401)
    expect(await genai().files.get({ name: file.name! })).toMatchObject({ name: file.name })
  })

  it("an oversized upload is refused at its start, in Google's error shape (400)", async () => {
    const err = await genai()
      .files.upload({ file: blob("y".repeat(70_000)) })
      .catch((e: unknown) => e)
    // Google has no 413: an oversized upload is INVALID_ARGUMENT.
    expect(err).toMatchObject({ status: 400 })
    expect(String((err as Error).message)).toContain("files.maxBytes")
  })

  it("wrong upload protocol headers and offsets are 400s that say what is wrong", async () => {
    const start = (headers: Record<string, string>) =>
      fetch(`${gw.url}/upload/v1beta/files`, {
        method: "POST",
        headers: { "x-goog-api-key": ALICE, "content-type": "application/json", ...headers },
        body: JSON.stringify({ file: { mimeType: "text/plain" } }),
      })
    const noProtocol = await start({ "x-goog-upload-command": "start" })
    expect(noProtocol.status).toBe(400)
    expect(await noProtocol.json()).toMatchObject({
      error: { code: 400, status: "INVALID_ARGUMENT", message: expect.stringContaining("X-Goog-Upload-Protocol") },
    })
    const noLength = await start({ "x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start" })
    expect(noLength.status).toBe(400)
    expect((await noLength.json()).error.message).toContain("X-Goog-Upload-Header-Content-Length")

    const ok = await start({
      "x-goog-upload-protocol": "resumable",
      "x-goog-upload-command": "start",
      "x-goog-upload-header-content-length": "4",
    })
    expect(ok.status).toBe(200)
    const url = ok.headers.get("x-goog-upload-url")!
    expect(url).toMatch(/\/upload\/v1beta\/files\?upload_id=[a-z0-9]+&upload_protocol=resumable$/)
    const chunk = (headers: Record<string, string>, body: string, key = ALICE) =>
      fetch(url, { method: "POST", headers: { "x-goog-api-key": key, ...headers }, body })
    const wrongOffset = await chunk({ "x-goog-upload-command": "upload", "x-goog-upload-offset": "2" }, "ab")
    expect(wrongOffset.status).toBe(400)
    expect((await wrongOffset.json()).error.message).toContain("X-Goog-Upload-Offset is 2, but 0 bytes")
    // Another key cannot feed someone's upload.
    const foreign = await chunk({ "x-goog-upload-command": "upload", "x-goog-upload-offset": "0" }, "ab", BOB)
    expect(foreign.status).toBe(404)
    const first = await chunk({ "x-goog-upload-command": "upload", "x-goog-upload-offset": "0" }, "ab")
    expect(first.headers.get("x-goog-upload-status")).toBe("active")
    const last = await chunk({ "x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "2" }, "cd")
    expect(last.headers.get("x-goog-upload-status")).toBe("final")
    expect((await last.json()).file).toMatchObject({ sizeBytes: "4", mimeType: "text/plain" })
  })

  it("an unknown file is 404 in Google's shape", async () => {
    const r = await fetch(`${gw.url}/v1beta/files/nosuchfile`, { headers: { "x-goog-api-key": ALICE } })
    expect(r.status).toBe(404)
    expect(await r.json()).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } })
  })
})

describe("OpenAI /v1/files", () => {
  it("creates, retrieves, lists, reads back and deletes; file_id in a chat works on any upstream", async () => {
    const client = oai()
    const created = await client.files.create({
      file: await toFile(Buffer.from("hello file"), "note.txt"),
      purpose: "user_data",
    })
    expect(created).toMatchObject({ object: "file", bytes: 10, filename: "note.txt", purpose: "user_data" })
    expect(created.id).toMatch(/^file-[a-z0-9]+$/)
    expect(created.expires_at! - created.created_at).toBe(48 * 3600)
    expect(await client.files.retrieve(created.id)).toMatchObject({ id: created.id, bytes: 10 })
    const ids: Array<string> = []
    for await (const f of client.files.list()) ids.push(f.id)
    expect(ids).toContain(created.id)
    expect(await (await client.files.content(created.id)).text()).toBe("hello file")

    const chat = await client.chat.completions.create({
      model: "mock",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is it" },
            { type: "file", file: { file_id: created.id } },
          ],
        },
      ],
    })
    expect(chat.choices[0]!.message.content).toBe('echo: what is it [text/plain, 10 bytes: "hello file"]')

    // Responses' input_file by file_id too.
    const resp = await client.responses.create({
      model: "mock",
      store: false,
      input: [
        {
          role: "user",
          content: [
            { type: "input_text", text: "and now" },
            { type: "input_file", file_id: created.id },
          ],
        },
      ],
    })
    expect(resp.output_text).toBe('echo: and now [text/plain, 10 bytes: "hello file"]')

    // The same file is the Gemini API's files/<id>.
    expect(await genai().files.get({ name: `files/${created.id.slice(5)}` })).toMatchObject({ sizeBytes: "10" })

    await expect(oai(BOB).files.retrieve(created.id)).rejects.toMatchObject({ status: 404 })
    await expect(oai(BOB).files.content(created.id)).rejects.toMatchObject({ status: 404 })
    expect(await client.files.delete(created.id)).toMatchObject({ id: created.id, deleted: true })
    await expect(client.files.retrieve(created.id)).rejects.toMatchObject({ status: 404 })
  })

  it("an oversized file is a 413 and an unknown id a 404, in OpenAI's shape", async () => {
    const err = await oai()
      .files.create({ file: await toFile(Buffer.alloc(70_000, 1), "big.bin"), purpose: "user_data" })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ status: 413, error: { type: "invalid_request_error", code: "request_too_large" } })
    expect(String((err as Error).message)).toContain("files.maxBytes")
    await expect(oai().files.retrieve("file-doesnotexist")).rejects.toMatchObject({
      status: 404,
      error: { message: "No such File object: file-doesnotexist" },
    })
    const bad = await oai()
      .chat.completions.create({
        model: "mock",
        messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-unknown0" } }] }],
      })
      .catch((e: unknown) => e)
    expect(bad).toMatchObject({ status: 404 })
  })
})
