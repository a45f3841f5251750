/**
 * A multi-turn tool loop with parallel calls, for every client format (Gemini, OpenAI chat,
 * OpenAI Responses, Anthropic) × every upstream format (Gemini, OpenAI, Anthropic, DeepSeek),
 * streamed and not, through two gateway instances: the turns alternate between them, so nothing
 * a turn needs may live in one instance's memory.
 *
 * The upstream mocks refuse what the real services refuse: Gemini a replayed functionCall
 * without the signature it issued on it (its Gemini 3 signatures are long opaque base64, only
 * the first of parallel calls is signed, and Google's skip value is refused here so only the
 * real signature passes), OpenAI a tool message answering no call / a call left unanswered /
 * a call id over 40 characters, Anthropic a tool_result for an unknown tool_use_id, roles that
 * do not alternate, and a tool_use id outside its pattern. Clients echo what their SDK hands
 * them, rebuilt the way frameworks do (OpenAI chat: id, name, arguments only).
 */
import Anthropic from "@anthropic-ai/sdk"
import { type Content, type FunctionDeclaration, GoogleGenAI, type Part, Type } from "@google/genai"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AnthropicUpstream, GeminiUpstream, OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

let gwA: RunningGateway
let gwB: RunningGateway
let openaiUp: OpenAIUpstream.OpenAIUpstream
let deepseekUp: OpenAIUpstream.OpenAIUpstream
let geminiUp: GeminiUpstream.GeminiMock
let anthropicUp: AnthropicUpstream.AnthropicMock

type Json = Record<string, unknown>
const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const toolNames = ["get_weather", "get_time"] as const
const argsFor: Record<string, Json> = { get_weather: { city: "Oslo" }, get_time: { zone: "CET" } }
/** What each tool returns: a multi-line text for one, to see newlines arrive as newlines. */
const resultFor: Record<string, string> = { get_weather: "sunny\n21 °C", get_time: "12:00" }

/**
 * The Anthropic mock's answers, driven by the request alone (tests run concurrently): tool
 * results → a summary of them; a prompt naming declared tools → parallel tool_use blocks.
 */
const anthropicScript: AnthropicUpstream.Script = (body) => {
  const messages = (Array.isArray(body.messages) ? body.messages : []) as Array<Json>
  const last = messages[messages.length - 1]!
  const blocks =
    typeof last.content === "string" ? [{ type: "text", text: last.content }] : (last.content as Array<Json>)
  const results = blocks.filter((b) => b.type === "tool_result")
  if (results.length > 0) {
    const texts = results.map((r) =>
      typeof r.content === "string"
        ? r.content
        : (r.content as Array<Json>).map((c) => (typeof c.text === "string" ? c.text : "")).join(""),
    )
    return { content: [AnthropicUpstream.text(`claude results: ${texts.join("; ")}`)] }
  }
  const prompt = blocks.map((b) => (typeof b.text === "string" ? b.text : "")).join("")
  const declared = (Array.isArray(body.tools) ? body.tools : []) as Array<Json>
  const named = declared.map((t) => String(t.name)).filter((n) => prompt.includes(n))
  if (named.length > 0)
    return { content: named.map((n) => AnthropicUpstream.toolUse(n, argsFor[n] ?? {})), stop_reason: "tool_use" }
  return { content: [AnthropicUpstream.text(`claude: ${prompt}`)] }
}

beforeAll(async () => {
  ;[openaiUp, deepseekUp, geminiUp, anthropicUp] = await Promise.all([
    OpenAIUpstream.start({ apiKey: "sk-openai-upstream" }),
    OpenAIUpstream.start({ apiKey: "sk-deepseek-upstream", flavor: "deepseek", prefix: "" }),
    GeminiUpstream.start({ apiKey: "gemini-upstream-key", acceptSkipSignature: false }),
    AnthropicUpstream.start({ apiKey: "sk-ant-upstream" }),
  ])
  anthropicUp.script(anthropicScript)
  const config = {
    providers: {
      oa: { type: "openai", baseUrl: openaiUp.baseUrl, apiKey: "sk-openai-upstream" },
      ds: { type: "deepseek", baseUrl: deepseekUp.baseUrl, apiKey: "sk-deepseek-upstream" },
      gm: { type: "gemini", baseUrl: geminiUp.url, apiKey: "gemini-upstream-key" },
      an: { type: "anthropic", baseUrl: anthropicUp.url, apiKey: "sk-ant-upstream" },
    },
    models: {
      "to-openai": { provider: "oa", model: "gpt-4o-mini" },
      "to-deepseek": { provider: "ds", model: "deepseek-chat" },
      "to-gemini": { provider: "gm", model: "gemini-3-pro-preview" },
      "to-anthropic": { provider: "an", model: "claude-sonnet-4-5" },
    },
  }
  ;[gwA, gwB] = await Promise.all([startGateway(config), startGateway(config)])
})

afterAll(async () => {
  await Promise.all([gwA?.close(), gwB?.close()])
  await Promise.all([openaiUp?.close(), deepseekUp?.close(), geminiUp?.close(), anthropicUp?.close()])
})

type Upstream = "to-openai" | "to-deepseek" | "to-gemini" | "to-anthropic"
type Client = "gemini" | "openai-chat" | "openai-responses" | "anthropic"

interface Call {
  readonly name: string
  readonly args: unknown
}

/** One client's conversation: `ask` sends a user prompt, `answer` sends results for the calls. */
interface Conversation {
  /** Sends the user turn; returns the calls the model made (and any text). */
  readonly ask: (gw: RunningGateway, prompt: string) => Promise<{ calls: Array<Call>; text: string }>
  /** Sends a result for every open call; returns the model's text. */
  readonly answer: (gw: RunningGateway) => Promise<string>
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

const openaiChat = (model: Upstream, stream: boolean): Conversation => {
  const messages: Array<OpenAI.ChatCompletionMessageParam> = []
  let open: Array<{ id: string; name: string; arguments: string }> = []
  const send = async (gw: RunningGateway) => {
    const client = new OpenAI({ apiKey: "client-key", baseURL: `${gw.url}/v1`, maxRetries: 0 })
    const params = { model, messages, tools: jsonTools.map((t) => ({ type: "function" as const, function: t })) }
    const completion = stream
      ? await client.chat.completions.stream(params).finalChatCompletion()
      : await client.chat.completions.create(params)
    const m = completion.choices[0]!.message
    open = (m.tool_calls ?? []).flatMap((c) =>
      c.type === "function" ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
    )
    // What many frameworks keep: the text, and each call's id, name and arguments.
    messages.push(
      open.length > 0
        ? {
            role: "assistant",
            content: m.content,
            tool_calls: open.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: c.arguments },
            })),
          }
        : { role: "assistant", content: m.content ?? "" },
    )
    return { calls: open.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) })), text: m.content ?? "" }
  }
  return {
    ask: (gw, prompt) => {
      messages.push({ role: "user", content: prompt })
      return send(gw)
    },
    answer: async (gw) => {
      for (const c of open) messages.push({ role: "tool", tool_call_id: c.id, content: resultFor[c.name]! })
      return (await send(gw)).text
    },
  }
}

const openaiResponses = (model: Upstream, stream: boolean): Conversation => {
  const input: Array<OpenAI.Responses.ResponseInputItem> = []
  let open: Array<{ call_id: string; name: string; arguments: string }> = []
  const send = async (gw: RunningGateway) => {
    const client = new OpenAI({ apiKey: "client-key", baseURL: `${gw.url}/v1`, maxRetries: 0 })
    const params = {
      model,
      input,
      store: false,
      tools: jsonTools.map((t) => ({ type: "function" as const, ...t, strict: false })),
    }
    const response = stream
      ? await client.responses.stream(params).finalResponse()
      : await client.responses.create(params)
    open = response.output.flatMap((o) =>
      o.type === "function_call" ? [{ call_id: o.call_id, name: o.name, arguments: o.arguments }] : [],
    )
    const text = response.output_text
    if (text !== "") input.push({ role: "assistant", content: text })
    // The function_call items, rebuilt from call_id, name and arguments.
    for (const c of open) input.push({ type: "function_call", ...c })
    return { calls: open.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) })), text }
  }
  return {
    ask: (gw, prompt) => {
      input.push({ role: "user", content: prompt })
      return send(gw)
    },
    answer: async (gw) => {
      for (const c of open) input.push({ type: "function_call_output", call_id: c.call_id, output: resultFor[c.name]! })
      return (await send(gw)).text
    },
  }
}

const anthropicClient = (model: Upstream, stream: boolean): Conversation => {
  const messages: Array<Anthropic.MessageParam> = []
  let open: Array<Anthropic.ToolUseBlock> = []
  const send = async (gw: RunningGateway) => {
    const client = new Anthropic({ apiKey: "client-key", baseURL: gw.url, maxRetries: 0 })
    const params = {
      model,
      max_tokens: 512,
      messages,
      tools: jsonTools.map((t) => ({
        name: t.name,
        description: t.description,
        input_schema: t.parameters as Anthropic.Tool.InputSchema,
      })),
    }
    const message = stream ? await client.messages.stream(params).finalMessage() : await client.messages.create(params)
    open = message.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")
    messages.push({ role: "assistant", content: message.content })
    const text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("")
    return { calls: open.map((c) => ({ name: c.name, args: c.input })), text }
  }
  return {
    ask: (gw, prompt) => {
      messages.push({ role: "user", content: prompt })
      return send(gw)
    },
    answer: async (gw) => {
      messages.push({
        role: "user",
        content: open.map((c) => ({ type: "tool_result" as const, tool_use_id: c.id, content: resultFor[c.name]! })),
      })
      return (await send(gw)).text
    },
  }
}

const geminiClient = (model: Upstream, stream: boolean): Conversation => {
  const contents: Array<Content> = []
  let open: Array<Part> = []
  const send = async (gw: RunningGateway) => {
    const ai = new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: gw.url } })
    const params = { model, contents, config: { tools: [{ functionDeclarations: geminiTools }] } }
    const parts: Array<Part> = []
    if (stream) {
      for await (const chunk of await ai.models.generateContentStream(params))
        parts.push(...(chunk.candidates?.[0]?.content?.parts ?? []))
    } else parts.push(...((await ai.models.generateContent(params)).candidates?.[0]?.content?.parts ?? []))
    // The model turn as received (signatures included), as the SDK's chat history keeps it.
    contents.push({ role: "model", parts })
    open = parts.filter((p) => p.functionCall !== undefined)
    const text = parts.map((p) => (p.thought ? "" : (p.text ?? ""))).join("")
    return { calls: open.map((p) => ({ name: p.functionCall!.name ?? "", args: p.functionCall!.args })), text }
  }
  return {
    ask: (gw, prompt) => {
      contents.push({ role: "user", parts: [{ text: prompt }] })
      return send(gw)
    },
    answer: async (gw) => {
      contents.push({
        role: "user",
        parts: open.map((p) => {
          const fc = p.functionCall!
          const name = fc.name ?? ""
          return {
            functionResponse: {
              ...(fc.id === undefined ? {} : { id: fc.id }),
              name,
              response: { output: resultFor[name]! },
            },
          }
        }),
      })
      return (await send(gw)).text
    },
  }
}

const conversation = (client: Client, model: Upstream, stream: boolean): Conversation => {
  switch (client) {
    case "gemini":
      return geminiClient(model, stream)
    case "openai-chat":
      return openaiChat(model, stream)
    case "openai-responses":
      return openaiResponses(model, stream)
    case "anthropic":
      return anthropicClient(model, stream)
  }
}

const clients: Array<Client> = ["gemini", "openai-chat", "openai-responses", "anthropic"]
const upstreams: Array<Upstream> = ["to-gemini", "to-openai", "to-anthropic", "to-deepseek"]

const expectBothCalls = (calls: Array<Call>, upstream: Upstream) => {
  expect(calls.map((c) => c.name)).toEqual([...toolNames])
  // The OpenAI-format mocks make up sample arguments; the others are scripted with these.
  if (upstream === "to-anthropic") expect(calls.map((c) => c.args)).toEqual(toolNames.map((n) => argsFor[n]))
  for (const c of calls) expect(isObj(c.args)).toBe(true)
}

describe.concurrent.each(clients)("%s client: a two-round parallel tool loop", (client) => {
  it.each(upstreams.flatMap((u) => [[u, false] as const, [u, true] as const]))(
    "→ %s (stream: %s), turns alternating between two gateway instances",
    async (upstream, stream) => {
      const c = conversation(client, upstream, stream)
      const first = await c.ask(gwA, `round 1 (${client}, ${stream}): use get_weather and get_time`)
      expectBothCalls(first.calls, upstream)
      const text1 = await c.answer(gwB)
      expect(text1).toContain("sunny")
      expect(text1).toContain("12:00")
      // Upstreams other than Gemini get the tool's text as text: newlines arrive as newlines.
      if (upstream !== "to-gemini") expect(text1).toContain("sunny\n21 °C")
      // Round 2 replays round 1's calls (and their signatures) as history.
      const second = await c.ask(gwA, `round 2 (${client}, ${stream}): use get_weather and get_time again`)
      expectBothCalls(second.calls, upstream)
      const text2 = await c.answer(gwB)
      expect(text2).toContain("sunny")
      expect(text2).toContain("12:00")
    },
  )
})

describe("Gemini upstream: what came back", () => {
  it("every replayed model turn carried the signature issued on its first call, and no stand-in", () => {
    const replayed = geminiUp
      .generateBodies()
      .flatMap((b) => (b.contents as Array<Json>).filter((c) => c.role === "model"))
      .filter((c) => (c.parts as Array<Json>).some((p) => isObj(p.functionCall)))
    // 4 clients × 2 stream modes × 3 requests with history of calls (turns 2, 3, 4), ≥ 1 each.
    expect(replayed.length).toBeGreaterThanOrEqual(24)
    for (const content of replayed) {
      const calls = (content.parts as Array<Json>).filter((p) => isObj(p.functionCall))
      const sig = calls[0]!.thoughtSignature
      expect(typeof sig).toBe("string")
      expect(geminiUp.signatures.get(sig as string)).toBe((calls[0]!.functionCall as Json).name)
      // Parallel calls: only the first is signed, as Gemini signs them.
      for (const later of calls.slice(1)) expect(later.thoughtSignature).toBeUndefined()
    }
  })

  it("refuses a replayed call without its signature (the mock is strict)", async () => {
    const ai = new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: gwA.url } })
    await expect(
      ai.models.generateContent({
        model: "to-gemini",
        contents: [
          { role: "user", parts: [{ text: "use get_weather" }] },
          { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Oslo" } } }] },
          { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "sunny" } } }] },
        ],
        config: { tools: [{ functionDeclarations: geminiTools }] },
      }),
    ).rejects.toThrow(/thought_signature/)
  })
})

// ---- Gemini options from other formats ----------------------------------------------------------

/** The Gemini upstream's request whose last user text contains `marker`. */
const geminiBodyWith = (marker: string): Json => {
  const found = geminiUp.generateBodies().find((b) => JSON.stringify(b.contents).includes(marker))
  if (found === undefined) throw new Error(`no Gemini request with ${marker}`)
  return found
}

describe("Gemini options and thoughts from other client formats", () => {
  const openai = () => new OpenAI({ apiKey: "client-key", baseURL: `${gwA.url}/v1`, maxRetries: 0 })

  it.each([false, true])(
    "OpenAI chat: reasoning_effort asks for thoughts; they come back as reasoning_content (stream: %s)",
    async (stream) => {
      const marker = `effort-chat-${stream}`
      let reasoning = ""
      let content = ""
      if (stream) {
        for await (const chunk of await openai().chat.completions.create({
          model: "to-gemini",
          stream: true,
          reasoning_effort: "low",
          messages: [{ role: "user", content: marker }],
        })) {
          const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined
          reasoning += delta?.reasoning_content ?? ""
          content += delta?.content ?? ""
        }
      } else {
        const r = await openai().chat.completions.create({
          model: "to-gemini",
          reasoning_effort: "low",
          messages: [{ role: "user", content: marker }],
        })
        const m = r.choices[0]!.message as { content: string | null; reasoning_content?: string }
        reasoning = m.reasoning_content ?? ""
        content = m.content ?? ""
      }
      expect(reasoning).toContain(`**Considering** ${marker}`)
      expect(content).toBe(`Echo: ${marker}`)
      const gc = geminiBodyWith(marker).generationConfig as Json
      expect(gc.thinkingConfig).toEqual({ includeThoughts: true, thinkingLevel: "LOW" })
    },
  )

  it("OpenAI chat: extra_body.google.thinking_config reaches Gemini as thinkingConfig", async () => {
    const marker = "google-thinking-config"
    const body = {
      model: "to-gemini",
      messages: [{ role: "user" as const, content: marker }],
      extra_body: { google: { thinking_config: { thinking_budget: 800, include_thoughts: true } } },
    }
    const r = await openai().chat.completions.create(body)
    expect((r.choices[0]!.message as { reasoning_content?: string }).reasoning_content).toContain(marker)
    const sent = geminiBodyWith(marker)
    expect((sent.generationConfig as Json).thinkingConfig).toEqual({ includeThoughts: true, thinkingBudget: 800 })
    expect(sent).not.toHaveProperty("extra_body")
  })

  it("OpenAI chat: a bad thinking_config is a 400 naming the field", async () => {
    const bad = {
      model: "to-gemini",
      messages: [{ role: "user" as const, content: "x" }],
      extra_body: { google: { thinking_config: { thinking_level: "enormous" } } },
    }
    await expect(openai().chat.completions.create(bad)).rejects.toMatchObject({
      status: 400,
      error: { param: "extra_body.google.thinking_config.thinking_level" },
    })
  })

  it.each([false, true])("Responses: reasoning.effort brings a reasoning summary (stream: %s)", async (stream) => {
    const marker = `effort-responses-${stream}`
    const params = { model: "to-gemini", input: marker, store: false, reasoning: { effort: "low" as const } }
    const response = stream
      ? await openai().responses.stream(params).finalResponse()
      : await openai().responses.create(params)
    const summary = response.output.flatMap((o) => (o.type === "reasoning" ? o.summary.map((s) => s.text) : []))
    expect(summary.join("")).toContain(`**Considering** ${marker}`)
    expect(response.output_text).toBe(`Echo: ${marker}`)
  })

  it("Gemini client: a lowercase thinkingLevel is taken (as Google's REST examples write it)", async () => {
    const marker = "lowercase-level"
    const ai = new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: gwA.url } })
    const r = await ai.models.generateContent({
      model: "to-gemini",
      contents: [{ role: "user", parts: [{ text: marker }] }],
      // The SDK's enum is uppercase; REST clients send "low".
      config: { thinkingConfig: { thinkingLevel: "low" as never, includeThoughts: true } },
    })
    expect(r.text).toBe(`Echo: ${marker}`)
    expect((geminiBodyWith(marker).generationConfig as Json).thinkingConfig).toEqual({
      includeThoughts: true,
      thinkingLevel: "LOW",
    })
  })
})
