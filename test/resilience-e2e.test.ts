/**
 * Retries and fallbacks across real upstreams over HTTP: an OpenAI-format upstream that fails on
 * command, an Anthropic upstream behind it as the fallback, a client that never notices.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AnthropicUpstream, OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let gw: RunningGateway
let openaiUp: OpenAIUpstream.OpenAIUpstream
let anthropicUp: AnthropicUpstream.AnthropicMock

beforeAll(async () => {
  openaiUp = await OpenAIUpstream.start({ apiKey: "sk-oa" })
  anthropicUp = await AnthropicUpstream.start({ apiKey: "sk-an" })
  gw = await startGateway({
    providers: {
      oa: { type: "openai", baseUrl: openaiUp.baseUrl, apiKey: "sk-oa" },
      an: { type: "anthropic", baseUrl: anthropicUp.url, apiKey: "sk-an" },
    },
    routes: [
      {
        match: "smart-*",
        to: "oa/gpt-4o-mini",
        fallbacks: ["an/claude-sonnet-4-5"],
        retry: { attempts: 2, backoff: "10ms" },
      },
    ],
  })
})

afterAll(async () => {
  await gw?.close()
  await Promise.all([openaiUp?.close(), anthropicUp?.close()])
})

const client = () => new OpenAI({ apiKey: "client", baseURL: `${gw.url}/v1`, maxRetries: 0 })
const chatCalls = () => openaiUp.requests.filter((r) => r.path.endsWith("/chat/completions")).length

describe("retries, then the fallback", () => {
  it("retries a 503 and then answers from the fallback provider", async () => {
    const before = chatCalls()
    const { data, response } = await client()
      .chat.completions.create({ model: "smart-1", messages: [{ role: "user", content: "fail:503 hello" }] })
      .withResponse()
    expect(chatCalls() - before).toBe(2)
    expect(response.headers.get("x-sluice-target")).toBe("an/claude-sonnet-4-5")
    expect(response.headers.get("x-sluice-attempts")).toBe("3")
    expect(data.choices[0]!.message.content).toBe("claude: fail:503 hello")
  })

  it("streams from the fallback when the primary fails before its first byte", async () => {
    let text = ""
    const stream = await client().chat.completions.create({
      model: "smart-1",
      stream: true,
      messages: [{ role: "user", content: "fail:500 streamed" }],
    })
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    expect(text).toBe("claude: fail:500 streamed")
  })

  it("does not retry or fall back on a client error", async () => {
    const before = chatCalls()
    const error = await client()
      .chat.completions.create({ model: "smart-1", messages: [{ role: "user", content: "fail:400" }] })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    expect(chatCalls() - before).toBe(1)
  })
})
