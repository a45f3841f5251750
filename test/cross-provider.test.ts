/**
 * Every ingress × every upstream format, through the official SDKs: text, streaming, parallel
 * streamed tool calls (fragments reassembled, ids kept, calls kept apart) and DeepSeek reasoning
 * reaching Gemini clients as thought parts and Anthropic clients as thinking blocks.
 */
import Anthropic from "@anthropic-ai/sdk"
import { type FunctionDeclaration, GoogleGenAI, Type } from "@google/genai"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AnthropicUpstream, GeminiUpstream, OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let gw: RunningGateway
let openaiUp: OpenAIUpstream.OpenAIUpstream
let deepseekUp: OpenAIUpstream.OpenAIUpstream
let geminiUp: GeminiUpstream.GeminiMock
let anthropicUp: AnthropicUpstream.AnthropicMock

beforeAll(async () => {
  openaiUp = await OpenAIUpstream.start({ apiKey: "sk-openai-upstream" })
  deepseekUp = await OpenAIUpstream.start({ apiKey: "sk-deepseek-upstream", flavor: "deepseek", prefix: "" })
  geminiUp = await GeminiUpstream.start({ apiKey: "gemini-upstream-key" })
  anthropicUp = await AnthropicUpstream.start({ apiKey: "sk-ant-upstream" })
  gw = await startGateway({
    providers: {
      oa: { type: "openai", baseUrl: openaiUp.baseUrl, apiKey: "sk-openai-upstream" },
      ds: { type: "deepseek", baseUrl: deepseekUp.baseUrl, apiKey: "sk-deepseek-upstream" },
      gm: { type: "gemini", baseUrl: geminiUp.url, apiKey: "gemini-upstream-key" },
      an: { type: "anthropic", baseUrl: anthropicUp.url, apiKey: "sk-ant-upstream" },
    },
    models: {
      "to-openai": { provider: "oa", model: "gpt-4o-mini" },
      "to-deepseek": { provider: "ds", model: "deepseek-reasoner" },
      "to-gemini": { provider: "gm", model: "gemini-2.5-flash" },
      "to-anthropic": { provider: "an", model: "claude-sonnet-4-5" },
    },
  })
})

afterAll(async () => {
  await gw?.close()
  await Promise.all([openaiUp?.close(), deepseekUp?.close(), geminiUp?.close(), anthropicUp?.close()])
})

const openai = () => new OpenAI({ apiKey: "client-key", baseURL: `${gw.url}/v1`, maxRetries: 0 })
const anthropic = () => new Anthropic({ apiKey: "client-key", baseURL: gw.url, maxRetries: 0 })
const gemini = () => new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: gw.url } })

type Upstream = "to-openai" | "to-deepseek" | "to-gemini" | "to-anthropic"
type Client = "openai" | "anthropic" | "gemini"

/** Ask for plain text; returns the answer's text. */
const askText = async (client: Client, model: Upstream, prompt: string, stream: boolean): Promise<string> => {
  if (client === "openai") {
    const c = openai()
    if (!stream)
      return (
        (await c.chat.completions.create({ model, messages: [{ role: "user", content: prompt }] })).choices[0]!.message
          .content ?? ""
      )
    let text = ""
    for await (const chunk of await c.chat.completions.create({
      model,
      stream: true,
      messages: [{ role: "user", content: prompt }],
    })) {
      text += chunk.choices[0]?.delta.content ?? ""
    }
    return text
  }
  if (client === "anthropic") {
    const c = anthropic()
    const params = { model, max_tokens: 256, messages: [{ role: "user" as const, content: prompt }] }
    const message = stream ? await c.messages.stream(params).finalMessage() : await c.messages.create(params)
    return message.content.map((b) => (b.type === "text" ? b.text : "")).join("")
  }
  const c = gemini()
  const params = { model, contents: [{ role: "user", parts: [{ text: prompt }] }] }
  if (!stream) return (await c.models.generateContent(params)).text ?? ""
  let text = ""
  for await (const chunk of await c.models.generateContentStream(params)) text += chunk.text ?? ""
  return text
}

const clients: Array<Client> = ["openai", "anthropic", "gemini"]
const upstreams: Array<Upstream> = ["to-openai", "to-deepseek", "to-gemini", "to-anthropic"]

describe.each(clients)("%s client", (client) => {
  it.each(upstreams.flatMap((u) => [[u, false] as const, [u, true] as const]))(
    "→ %s (stream: %s) answers",
    async (upstream, stream) => {
      const text = await askText(client, upstream, `hello from ${client}`, stream)
      expect(text).toContain(`hello from ${client}`)
    },
  )
})

// ---- parallel streamed tool calls -------------------------------------------------------------

const weatherArgs = { city: "value of city" }
const timeArgs = { zone: "value of zone" }

/** Make the upstream answer with two parallel calls (the OpenAI mock does so by itself). */
const scriptTools = (upstream: Upstream) => {
  if (upstream === "to-gemini") {
    geminiUp.script({
      calls: [
        { name: "get_weather", args: weatherArgs },
        { name: "get_time", args: timeArgs },
      ],
    })
  } else if (upstream === "to-anthropic") {
    anthropicUp.next({
      content: [AnthropicUpstream.toolUse("get_weather", weatherArgs), AnthropicUpstream.toolUse("get_time", timeArgs)],
      stop_reason: "tool_use",
    })
  }
}

interface Call {
  readonly id: string | undefined
  readonly name: string
  readonly args: unknown
}

const jsonTools = [
  {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
  {
    name: "get_time",
    description: "Time in a zone",
    parameters: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] },
  },
]
const geminiTools: Array<FunctionDeclaration> = [
  {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } }, required: ["city"] },
  },
  {
    name: "get_time",
    description: "Time in a zone",
    parameters: { type: Type.OBJECT, properties: { zone: { type: Type.STRING } }, required: ["zone"] },
  },
]
const prompt = "use get_weather and get_time"

const streamTools = async (client: Client, model: Upstream): Promise<Array<Call>> => {
  if (client === "openai") {
    const final = await openai()
      .chat.completions.stream({
        model,
        messages: [{ role: "user", content: prompt }],
        tools: jsonTools.map((t) => ({ type: "function" as const, function: t })),
      })
      .finalChatCompletion()
    return (final.choices[0]!.message.tool_calls ?? []).map((c) =>
      c.type === "function"
        ? { id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) }
        : { id: c.id, name: "?", args: null },
    )
  }
  if (client === "anthropic") {
    const final = await anthropic()
      .messages.stream({
        model,
        max_tokens: 256,
        messages: [{ role: "user", content: prompt }],
        tools: jsonTools.map((t) => ({
          name: t.name,
          description: t.description,
          input_schema: t.parameters as Anthropic.Tool.InputSchema,
        })),
      })
      .finalMessage()
    return final.content.flatMap((b) => (b.type === "tool_use" ? [{ id: b.id, name: b.name, args: b.input }] : []))
  }
  const calls: Array<Call> = []
  for await (const chunk of await gemini().models.generateContentStream({
    model,
    contents: [{ role: "user", parts: [{ text: prompt }] }],
    config: { tools: [{ functionDeclarations: geminiTools }] },
  })) {
    for (const fc of chunk.functionCalls ?? []) calls.push({ id: fc.id, name: fc.name ?? "", args: fc.args })
  }
  return calls
}

describe.each(clients)("%s client, parallel streamed tool calls", (client) => {
  it.each(["to-openai", "to-gemini", "to-anthropic"] as const)(
    "→ %s arrive whole, apart, with ids",
    async (upstream) => {
      scriptTools(upstream)
      const calls = await streamTools(client, upstream)
      expect(calls.map((c) => c.name)).toEqual(["get_weather", "get_time"])
      expect(calls[0]!.args).toEqual(weatherArgs)
      expect(calls[1]!.args).toEqual(timeArgs)
      if (client !== "gemini") {
        expect(calls[0]!.id).toBeTruthy()
        expect(calls[0]!.id).not.toBe(calls[1]!.id)
      }
    },
  )
})

// ---- reasoning ---------------------------------------------------------------------------------

describe("DeepSeek reasoning_content reaches other formats as their own reasoning", () => {
  it.each([false, true])("Gemini client gets thought parts (stream: %s)", async (stream) => {
    const params = {
      model: "to-deepseek",
      contents: [{ role: "user", parts: [{ text: "why is the sky blue" }] }],
      config: { thinkingConfig: { includeThoughts: true } },
    }
    const parts = []
    if (stream) {
      for await (const c of await gemini().models.generateContentStream(params))
        parts.push(...(c.candidates?.[0]?.content?.parts ?? []))
    } else parts.push(...((await gemini().models.generateContent(params)).candidates?.[0]?.content?.parts ?? []))
    const thoughts = parts
      .filter((p) => p.thought)
      .map((p) => p.text)
      .join("")
    const answer = parts
      .filter((p) => !p.thought)
      .map((p) => p.text ?? "")
      .join("")
    expect(thoughts).toBe("Reasoning about: why is the sky blue")
    expect(answer).toBe("echo: why is the sky blue")
  })

  it.each([false, true])("Anthropic client gets a thinking block (stream: %s)", async (stream) => {
    const params = {
      model: "to-deepseek",
      max_tokens: 2048,
      thinking: { type: "enabled" as const, budget_tokens: 1024 },
      messages: [{ role: "user" as const, content: "why is the sky blue" }],
    }
    const message = stream
      ? await anthropic().messages.stream(params).finalMessage()
      : await anthropic().messages.create(params)
    expect(message.content[0]).toMatchObject({ type: "thinking", thinking: "Reasoning about: why is the sky blue" })
    expect(message.content.at(-1)).toMatchObject({ type: "text", text: "echo: why is the sky blue" })
  })

  it("OpenAI client keeps the answer; the reasoning counts in usage", async () => {
    const r = await openai().chat.completions.create({
      model: "to-deepseek",
      messages: [{ role: "user", content: "why" }],
    })
    expect(r.choices[0]!.message.content).toBe("echo: why")
    expect(r.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0)
  })
})
