/**
 * Gemini's built-in tools (googleSearch, codeExecution, urlContext) and image options from an
 * OpenAI chat client, in the forms Kong and Google's OpenAI-compatible endpoint take: a Gemini
 * tool object in `tools`, or `extra_body.google.{tools,image_config}`. The Gemini upstream mock
 * refuses tool kinds Google does not document, so a misspelt tool cannot pass.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GeminiUpstream, OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let gemini: GeminiUpstream.GeminiMock
let openaiUp: OpenAIUpstream.OpenAIUpstream
let gateway: RunningGateway
let client: OpenAI

beforeAll(async () => {
  gemini = await GeminiUpstream.start()
  openaiUp = await OpenAIUpstream.start()
  gateway = await startGateway({
    providers: {
      g: { type: "gemini", baseUrl: gemini.url, apiKey: "k" },
      o: { type: "openai-compatible", baseUrl: openaiUp.baseUrl },
    },
    models: {
      "gemini-2.5-flash": { provider: "g", model: "gemini-2.5-flash" },
      "gpt-4o-mini": { provider: "o", model: "gpt-4o-mini" },
    },
  })
  client = new OpenAI({ apiKey: "x", baseURL: `${gateway.url}/v1`, maxRetries: 0 })
})
afterAll(async () => {
  await gateway?.close()
  await Promise.all([gemini?.close(), openaiUp?.close()])
})

type Body = Parameters<typeof client.chat.completions.create>[0]
const lastGemini = () => gemini.generateBodies().at(-1) as Record<string, unknown>

describe("Gemini built-in tools from an OpenAI chat client", () => {
  it("passes googleSearch from `tools` beside a function tool, streamed and not", async () => {
    const body = {
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "search the news" }],
      tools: [
        { googleSearch: {} },
        { type: "function", function: { name: "lookup", parameters: { type: "object", properties: {} } } },
      ],
    } as unknown as Body
    const r = await client.chat.completions.create({ ...body, stream: false })
    expect(r.choices[0]?.message).toBeDefined()
    const tools = lastGemini().tools as Array<Record<string, unknown>>
    expect(tools).toContainEqual({ googleSearch: {} })
    expect(tools.some((t) => Array.isArray(t.functionDeclarations))).toBe(true)
    const stream = await client.chat.completions.create({ ...body, stream: true })
    for await (const _ of stream) {
    }
    expect(lastGemini().tools).toContainEqual({ googleSearch: {} })
  })

  it("takes extra_body.google.tools and image_config", async () => {
    await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "draw and look things up" }],
      // The SDK merges extra_body into the body; Google's own examples nest one more extra_body.
      extra_body: {
        google: { tools: [{ code_execution: {} }, { urlContext: {} }], image_config: { aspect_ratio: "16:9" } },
      },
    } as unknown as Body)
    const sent = lastGemini()
    expect(sent.tools).toEqual([{ codeExecution: {} }, { urlContext: {} }])
    expect((sent.generationConfig as Record<string, unknown>).imageConfig).toEqual({ aspectRatio: "16:9" })
    expect(sent.extra_body).toBeUndefined()
  })

  it("never sends them to a non-Gemini upstream", async () => {
    await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      tools: [{ googleSearch: {} }],
    } as unknown as Body)
    const sent = openaiUp.chatBodies().at(-1)!
    expect(sent.tools).toBeUndefined()
    expect(JSON.stringify(sent)).not.toContain("googleSearch")
  })

  it("answers a bad option with a 400 naming the field", async () => {
    const bad = (extra: unknown) =>
      client.chat.completions.create({
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: "x" }],
        extra_body: { google: extra },
      } as unknown as Body)
    await expect(bad({ tools: [{ webSearch: {} }] })).rejects.toMatchObject({
      status: 400,
      param: "extra_body.google.tools[0]",
    })
    await expect(bad({ image_config: { aspect_ratio: 16 } })).rejects.toMatchObject({
      status: 400,
      param: "extra_body.google.image_config.aspect_ratio",
    })
  })
})
