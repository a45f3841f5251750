/**
 * Image output end to end with the official SDKs: Gemini image models' pictures through every
 * ingress (Gemini natively, OpenAI chat as `images`, Responses as image_generation_call items,
 * Anthropic as image blocks), streamed and not; OpenAI's /v1/images/generations and
 * /v1/images/edits to an OpenAI images upstream as is and to a Gemini image model by
 * translation; and a Gemini image request routed to an OpenAI images model. Every picture is
 * checked against the one the upstream mock drew for that prompt.
 */
import Anthropic from "@anthropic-ai/sdk"
import { GoogleGenAI } from "@google/genai"
import OpenAI, { toFile } from "openai"
import { GeminiUpstream, OpenAIImagesUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let gw: RunningGateway
let gemini: GeminiUpstream.GeminiMock
let openai: OpenAIUpstream.OpenAIUpstream

beforeAll(async () => {
  gemini = await GeminiUpstream.start({ apiKey: "g-up" })
  openai = await OpenAIUpstream.start({ apiKey: "o-up", models: ["gpt-image-1", "gpt-4o-mini"] })
  gw = await startGateway({
    providers: {
      gem: { type: "gemini", baseUrl: gemini.url, apiKey: "g-up" },
      oai: { type: "openai", baseUrl: openai.baseUrl, apiKey: "o-up" },
      fake: { type: "mock" },
    },
    models: {
      nano: { provider: "gem", model: "gemini-2.5-flash-image" },
      flash: { provider: "gem", model: "gemini-2.5-flash" },
      "gpt-image-1": { provider: "oai", model: "gpt-image-1" },
    },
  })
})
afterAll(async () => {
  await gw?.close()
  await gemini?.close()
  await openai?.close()
})

const drawn = (seed: string) => GeminiUpstream.drawPng(seed).toString("base64")
const png = (seed: string) => GeminiUpstream.drawPng(seed)
const oai = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "client", maxRetries: 0 })
const genai = () => new GoogleGenAI({ apiKey: "client", httpOptions: { baseUrl: gw.url } })
const lastGeminiBody = () => gemini.generateBodies().at(-1) as Record<string, any>

describe("Gemini image models through every ingress", () => {
  it("a Gemini client gets the picture, streamed and not", async () => {
    const r = await genai().models.generateContent({
      model: "nano",
      contents: "a red fox",
      config: { responseModalities: ["TEXT", "IMAGE"], imageConfig: { aspectRatio: "16:9" } },
    })
    const parts = r.candidates?.[0]?.content?.parts ?? []
    expect(parts.map((p) => p.text ?? "").join("")).toBe("Here is a red fox")
    expect(parts.find((p) => p.inlineData)?.inlineData).toEqual({ mimeType: "image/png", data: drawn("a red fox|0") })
    expect(lastGeminiBody().generationConfig).toEqual({
      responseModalities: ["TEXT", "IMAGE"],
      imageConfig: { aspectRatio: "16:9" },
    })

    const images: Array<unknown> = []
    let text = ""
    for await (const c of await genai().models.generateContentStream({
      model: "nano",
      contents: "a blue whale",
      config: { responseModalities: ["TEXT", "IMAGE"] },
    })) {
      for (const p of c.candidates?.[0]?.content?.parts ?? []) {
        if (p.inlineData) images.push(p.inlineData)
        if (p.text) text += p.text
      }
    }
    expect(images).toEqual([{ mimeType: "image/png", data: drawn("a blue whale|0") }])
    expect(text).toBe("Here is a blue whale")
  })

  it("an OpenAI chat client gets message.images (and delta.images when streaming)", async () => {
    const r = await oai().chat.completions.create({
      model: "nano",
      messages: [{ role: "user", content: "a green owl" }],
      // @ts-expect-error modalities: "image" is the OpenRouter convention, not in openai-node's types
      modalities: ["text", "image"],
    })
    const message = r.choices[0]!.message as unknown as { content: string; images: Array<any> }
    expect(message.content).toBe("Here is a green owl")
    expect(message.images).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${drawn("a green owl|0")}` }, index: 0 },
    ])
    expect(lastGeminiBody().generationConfig.responseModalities).toEqual(["TEXT", "IMAGE"])

    const stream = await oai().chat.completions.create({
      model: "nano",
      messages: [{ role: "user", content: "a grey cat" }],
      stream: true,
      // @ts-expect-error as above
      modalities: ["text", "image"],
    })
    const urls: Array<string> = []
    for await (const c of stream)
      for (const i of ((c.choices[0]?.delta as any)?.images ?? []) as Array<any>) urls.push(i.image_url.url)
    expect(urls).toEqual([`data:image/png;base64,${drawn("a grey cat|0")}`])
  })

  it("a Responses client with the image_generation tool gets image_generation_call items", async () => {
    const r = await oai().responses.create({
      model: "nano",
      input: "a yellow duck",
      tools: [{ type: "image_generation", size: "1024x1536" }],
    })
    const call = r.output.find((o) => o.type === "image_generation_call")
    expect(call).toMatchObject({ status: "completed", result: drawn("a yellow duck|0") })
    expect(r.output_text).toBe("Here is a yellow duck")
    expect(lastGeminiBody().generationConfig).toEqual({
      responseModalities: ["TEXT", "IMAGE"],
      imageConfig: { aspectRatio: "2:3", imageSize: "2K" },
    })

    const stream = await oai().responses.create({
      model: "nano",
      input: "a pink flamingo",
      tools: [{ type: "image_generation" }],
      stream: true,
    })
    const types: Array<string> = []
    let result: unknown
    for await (const e of stream) {
      types.push(e.type)
      if (e.type === "response.output_item.done" && e.item.type === "image_generation_call") result = e.item.result
    }
    expect(result).toBe(drawn("a pink flamingo|0"))
    expect(types).toContain("response.image_generation_call.completed")
    expect(types.at(-1)).toBe("response.completed")
  })

  it("an Anthropic client gets an image block, streamed and not", async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: "client", maxRetries: 0 })
    const r = await client.messages.create({
      model: "nano",
      max_tokens: 100,
      messages: [{ role: "user", content: "a black swan" }],
    })
    expect(r.content.map((b) => (b.type === "text" ? b.text : "")).join("")).toBe("Here is a black swan")
    expect(r.content.at(-1)).toEqual({
      type: "image",
      source: { type: "base64", media_type: "image/png", data: drawn("a black swan|0") },
    })
    const final = await client.messages
      .stream({ model: "nano", max_tokens: 100, messages: [{ role: "user", content: "a white hare" }] })
      .finalMessage()
    expect(final.content.at(-1)).toEqual({
      type: "image",
      source: { type: "base64", media_type: "image/png", data: drawn("a white hare|0") },
    })
  })
})

describe("OpenAI images endpoints", () => {
  it("generations to a Gemini image model: n calls, size as aspect ratio and size class", async () => {
    const r = await oai().images.generate({ model: "nano", prompt: "two moons", n: 2, size: "1536x1024" })
    expect(r.data?.map((d) => d.b64_json)).toEqual([drawn("two moons|0"), drawn("two moons|0")])
    // Both calls' usage: each image plus the mock's default thinking tokens.
    expect(r.usage?.output_tokens).toBe(2 * (GeminiUpstream.imageTokens + 7))
    expect(lastGeminiBody().generationConfig).toEqual({
      responseModalities: ["IMAGE"],
      imageConfig: { aspectRatio: "3:2", imageSize: "2K" },
    })
  })

  it("generations to an OpenAI images model go as is", async () => {
    const r = await oai().images.generate({
      model: "gpt-image-1",
      prompt: "a lighthouse",
      quality: "high",
      size: "1024x1536",
    })
    expect(r.data?.[0]?.b64_json).toBe(drawn("a lighthouse|0"))
    expect(r.output_format).toBe("png")
    const sent = openai.requests.filter((q) => q.path === "/v1/images/generations").at(-1)!.body
    expect(sent).toEqual({ model: "gpt-image-1", prompt: "a lighthouse", quality: "high", size: "1024x1536" })
  })

  it("edits (multipart) to a Gemini image model and to an OpenAI images model", async () => {
    const files = await Promise.all([
      toFile(png("base-a"), "a.png", { type: "image/png" }),
      toFile(png("base-b"), "b.png", { type: "image/png" }),
    ])
    const viaGemini = await oai().images.edit({ model: "nano", image: files, prompt: "merge them" })
    expect(viaGemini.data?.[0]?.b64_json).toBe(drawn("merge them|2"))
    const parts = lastGeminiBody().contents[0].parts as Array<any>
    expect(parts.map((p) => (p.inlineData ? p.inlineData.data : p.text))).toEqual([
      drawn("base-a"),
      drawn("base-b"),
      "merge them",
    ])

    const files2 = await Promise.all([
      toFile(png("base-a"), "a.png", { type: "image/png" }),
      toFile(png("base-b"), "b.png", { type: "image/png" }),
    ])
    const viaOpenAI = await oai().images.edit({ model: "gpt-image-1", image: files2, prompt: "merge them" })
    expect(viaOpenAI.data?.[0]?.b64_json).toBe(drawn("merge them|2|0"))
    const log = OpenAIImagesUpstream.editLog.at(-1)!
    expect(log.files.map((f) => [f.field, f.type])).toEqual([
      ["image[]", "image/png"],
      ["image[]", "image/png"],
    ])
    expect(log.fields).toMatchObject({ model: "gpt-image-1", prompt: "merge them" })
  })

  it("the mock provider draws without keys", async () => {
    const r = await oai().images.generate({ model: "fake/mock", prompt: "anything", n: 3 })
    expect(r.data).toHaveLength(3)
    for (const d of r.data ?? []) expect(Buffer.from(d.b64_json!, "base64").subarray(1, 4).toString()).toBe("PNG")
    expect(new Set(r.data?.map((d) => d.b64_json)).size).toBe(3)
  })

  it("bad input is a 400 naming the field", async () => {
    await expect(oai().images.generate({ model: "nano", prompt: "x", n: 11 })).rejects.toMatchObject({
      status: 400,
      param: "n",
    })
    await expect(oai().images.generate({ model: "nano", prompt: "" })).rejects.toMatchObject({
      status: 400,
      param: "prompt",
    })
    const res = await fetch(`${gw.url}/v1/images/edits`, {
      method: "POST",
      body: (() => {
        const f = new FormData()
        f.append("model", "nano")
        f.append("prompt", "no image")
        return f
      })(),
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).error.param).toBe("image")
    // A text model asked for pictures: the upstream's refusal reaches the client.
    await expect(oai().images.generate({ model: "flash", prompt: "a tree" })).rejects.toMatchObject({ status: 400 })
  })
})

describe("a Gemini image request routed to an OpenAI images model", () => {
  it("generates, and edits when the prompt carries an image", async () => {
    const r = await genai().models.generateContent({
      model: "gpt-image-1",
      contents: "a windmill",
      config: { responseModalities: ["IMAGE"], imageConfig: { aspectRatio: "16:9", imageSize: "2K" } },
    })
    expect(r.candidates?.[0]?.content?.parts).toEqual([
      { inlineData: { mimeType: "image/png", data: drawn("a windmill|0") } },
    ])
    const sent = openai.requests.filter((q) => q.path === "/v1/images/generations").at(-1)!.body
    expect(sent).toEqual({ model: "gpt-image-1", prompt: "a windmill", size: "1536x1024", quality: "high" })

    const stream = await genai().models.generateContentStream({
      model: "gpt-image-1",
      contents: [
        {
          role: "user",
          parts: [{ inlineData: { mimeType: "image/png", data: drawn("photo") } }, { text: "make it night" }],
        },
      ],
      config: { responseModalities: ["IMAGE"] },
    })
    const images: Array<unknown> = []
    for await (const c of stream)
      for (const p of c.candidates?.[0]?.content?.parts ?? []) if (p.inlineData) images.push(p.inlineData)
    expect(images).toEqual([{ mimeType: "image/png", data: drawn("make it night|1|0") }])
  })
})
