/**
 * A Gemini client's multi-turn tool loops with thinking, through js-genai's chats API (which
 * keeps every streamed chunk as its own Content in the history), to non-Gemini upstreams whose
 * reasoning must come back intact: Anthropic checks each thinking block's signature, DeepSeek
 * refuses reasoning sent back as input.
 */
import { GoogleGenAI } from "@google/genai"
import { AnthropicUpstream, OpenAIUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let gw: RunningGateway
let anthropic: AnthropicUpstream.AnthropicMock
let deepseek: OpenAIUpstream.OpenAIUpstream

beforeAll(async () => {
  anthropic = await AnthropicUpstream.start({ apiKey: "sk-ant-upstream" })
  deepseek = await OpenAIUpstream.start({ apiKey: "sk-ds-upstream", flavor: "deepseek", prefix: "" })
  gw = await startGateway({
    providers: {
      an: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-upstream" },
      ds: { type: "deepseek", baseUrl: deepseek.baseUrl, apiKey: "sk-ds-upstream" },
    },
    models: {
      claude: { provider: "an", model: "claude-sonnet-4-5" },
      reasoner: { provider: "ds", model: "deepseek-reasoner" },
    },
  })
})
afterAll(async () => {
  await gw?.close()
  await anthropic?.close()
  await deepseek?.close()
})

const tools = [
  {
    functionDeclarations: [
      {
        name: "get_weather",
        parametersJsonSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    ],
  },
]

const loop = async (model: string, stream: boolean) => {
  const ai = new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: gw.url } })
  const chat = ai.chats.create({
    model,
    config: { tools, thinkingConfig: { includeThoughts: true, thinkingBudget: 2048 } },
  })
  const send = async (message: Parameters<typeof chat.sendMessage>[0]["message"]) => {
    if (!stream) {
      const r = await chat.sendMessage({ message })
      return { calls: r.functionCalls ?? [], text: r.functionCalls ? "" : (r.text ?? "") }
    }
    const calls = []
    let text = ""
    for await (const c of await chat.sendMessageStream({ message })) {
      if (c.functionCalls) calls.push(...c.functionCalls)
      else text += c.text ?? ""
    }
    return { calls, text }
  }
  const first = await send("please call get_weather for Paris")
  expect(first.calls.map((c) => c.name)).toEqual(["get_weather"])
  const second = await send([
    { functionResponse: { id: first.calls[0]!.id!, name: "get_weather", response: { output: "18C" } } },
  ])
  return { first, second, history: chat.getHistory() }
}

describe("Gemini client → Anthropic upstream, thinking + tools", () => {
  it.each([false, true])("the signed thinking block survives the round trip (stream: %s)", async (stream) => {
    anthropic.next({
      content: [
        AnthropicUpstream.thinking("I should check the weather in Paris."),
        { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } },
      ],
      stop_reason: "tool_use",
    })
    const { first, second, history } = await loop("claude", stream)
    expect(first.calls[0]).toEqual({ id: "toolu_01", name: "get_weather", args: { city: "Paris" } })
    expect(second.text).toBe("claude: 18C")
    const thoughts = history.flatMap((c) => c.parts ?? []).filter((p) => p.thought)
    expect(thoughts.map((p) => p.text).join("")).toBe("I should check the weather in Paris.")
    expect(thoughts.filter((p) => p.thoughtSignature !== undefined)).toHaveLength(1)
  })
})

describe("Gemini client → DeepSeek reasoner, thinking + tools", () => {
  it.each([false, true])("reasoning arrives as thought parts and the loop completes (stream: %s)", async (stream) => {
    const { first, second, history } = await loop("reasoner", stream)
    expect(first.calls[0]?.args).toHaveProperty("city")
    expect(second.text).toBe("results: 18C")
    expect(history.some((c) => c.parts?.some((p) => p.thought === true && (p.text ?? "").length > 0))).toBe(true)
  })
})
