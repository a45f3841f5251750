/**
 * The official openai SDK against the running gateway, answered by the built-in mock provider:
 * chat (JSON and streamed), the Responses API (JSON and streamed), embeddings, models, and an
 * error of each kind as the SDK's own error classes.
 */
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
}

describe("openai SDK → gateway → mock provider", () => {
  let gw: RunningGateway
  let client: OpenAI
  beforeAll(async () => {
    gw = await startGateway({
      providers: { mock: { type: "mock" } },
      models: { mock: { provider: "mock", model: "mock" } },
    })
    client = new OpenAI({ apiKey: "sk-client", baseURL: `${gw.url}/v1`, maxRetries: 0 })
  })
  afterAll(() => gw.close())

  describe("chat completions", () => {
    it("answers a create call with content, finish_reason and usage", async () => {
      const { data, response } = await client.chat.completions
        .create({
          model: "mock",
          messages: [
            { role: "system", content: "be brief" },
            { role: "developer", content: [{ type: "text", text: "really brief" }] },
            { role: "user", content: [{ type: "text", text: "hello there" }] },
          ],
          temperature: 0.2,
          max_completion_tokens: 100,
          seed: 7,
          stop: "\n\n",
          user: "u-1",
          metadata: { team: "a" },
        })
        .withResponse()
      expect(data.object).toBe("chat.completion")
      expect(data.choices).toHaveLength(1)
      expect(data.choices[0]!.message).toMatchObject({ role: "assistant", content: "echo: hello there" })
      expect(data.choices[0]!.finish_reason).toBe("stop")
      expect(data.usage!.prompt_tokens).toBeGreaterThan(0)
      expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens)
      expect(response.headers.get("x-sluice-target")).toBe("mock/mock")
    })

    it("answers with tool_calls (content null) when the model calls a tool", async () => {
      const r = await client.chat.completions.create({
        model: "mock",
        messages: [{ role: "user", content: "use get_weather please" }],
        tools: [weatherTool],
        tool_choice: "auto",
        parallel_tool_calls: true,
      })
      const choice = r.choices[0]!
      expect(choice.finish_reason).toBe("tool_calls")
      expect(choice.message.content).toBeNull()
      const call = choice.message.tool_calls![0]!
      expect(call.type).toBe("function")
      if (call.type !== "function") throw new Error("expected a function call")
      expect(call.id).toMatch(/^call_/)
      expect(call.function.name).toBe("get_weather")
      expect(JSON.parse(call.function.arguments)).toEqual({ city: "mock" })
    })

    it("carries tool results back to the model (tool message named from the earlier call)", async () => {
      const r = await client.chat.completions.create({
        model: "mock",
        messages: [
          { role: "user", content: "use get_weather" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
            ],
          },
          { role: "tool", tool_call_id: "call_1", content: "rainy, 4C" },
        ],
        tools: [weatherTool],
      })
      expect(r.choices[0]!.message.content).toBe("tool result: get_weather=rainy, 4C")
    })

    it("streams: the SDK's stream helper reassembles the tool call and the final completion", async () => {
      const stream = client.chat.completions.stream({
        model: "mock",
        messages: [{ role: "user", content: "call get_weather now" }],
        tools: [weatherTool],
        stream_options: { include_usage: true },
      })
      const argsDone: Array<{ name: string; arguments: string }> = []
      stream.on("tool_calls.function.arguments.done", (e) => argsDone.push({ name: e.name, arguments: e.arguments }))
      const final = await stream.finalChatCompletion()
      expect(final.choices[0]!.finish_reason).toBe("tool_calls")
      const call = final.choices[0]!.message.tool_calls![0]!
      if (call.type !== "function") throw new Error("expected a function call")
      expect(call.function.name).toBe("get_weather")
      expect(JSON.parse(call.function.arguments)).toEqual({ city: "mock" })
      expect(argsDone).toEqual([{ name: "get_weather", arguments: call.function.arguments }])
      expect(final.usage!.completion_tokens).toBeGreaterThan(0)
    })

    it("streams text deltas; the usage chunk (choices: []) comes only when include_usage is asked", async () => {
      const collect = async (includeUsage: boolean) => {
        const s = await client.chat.completions.create({
          model: "mock",
          messages: [{ role: "user", content: "one two three four five" }],
          stream: true,
          ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
        })
        const chunks = []
        for await (const c of s) chunks.push(c)
        return chunks
      }
      const plain = await collect(false)
      expect(plain.every((c) => c.choices.length === 1)).toBe(true)
      expect(plain.map((c) => c.choices[0]!.delta.content ?? "").join("")).toBe("echo: one two three four five")
      expect(plain[0]!.choices[0]!.delta.role).toBe("assistant")
      expect(plain.at(-1)!.choices[0]!.finish_reason).toBe("stop")
      expect(new Set(plain.map((c) => c.id)).size).toBe(1)

      const withUsage = await collect(true)
      const last = withUsage.at(-1)!
      expect(last.choices).toEqual([])
      expect(last.usage!.prompt_tokens).toBeGreaterThan(0)
      expect(withUsage.slice(0, -1).every((c) => c.usage === null)).toBe(true)
    })

    it("passes reasoning as reasoning_content and counts reasoning tokens", async () => {
      const r = await client.chat.completions.create({
        model: "mock",
        messages: [{ role: "user", content: "think first" }],
        reasoning_effort: "low",
      })
      const message = r.choices[0]!.message as (typeof r.choices)[0]["message"] & { reasoning_content?: string }
      expect(message.reasoning_content).toBe("Thinking about: think first")
      expect(message.content).toBe("echo: think first")
      expect(r.usage!.completion_tokens_details!.reasoning_tokens).toBeGreaterThan(0)
    })
  })

  describe("responses API", () => {
    it("creates a response from a string input with instructions", async () => {
      const r = await client.responses.create({ model: "mock", input: "hello responses", instructions: "be kind" })
      expect(r.object).toBe("response")
      expect(r.status).toBe("completed")
      expect(r.output_text).toBe("echo: hello responses")
      expect(r.instructions).toBe("be kind")
      expect(r.usage!.total_tokens).toBe(r.usage!.input_tokens + r.usage!.output_tokens)
    })

    it("returns function_call items and takes function_call_output back", async () => {
      const tools = [
        {
          type: "function" as const,
          name: "get_weather",
          description: "Weather for a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          strict: false,
        },
      ]
      const first = await client.responses.create({ model: "mock", input: "use get_weather", tools })
      const call = first.output.find((o) => o.type === "function_call")
      if (call?.type !== "function_call") throw new Error("expected a function_call item")
      expect(call.name).toBe("get_weather")
      expect(JSON.parse(call.arguments)).toEqual({ city: "mock" })

      const second = await client.responses.create({
        model: "mock",
        tools,
        input: [
          { role: "user", content: [{ type: "input_text", text: "use get_weather" }] },
          { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
          { type: "function_call_output", call_id: call.call_id, output: "sunny" },
        ],
      })
      expect(second.output_text).toBe("tool result: get_weather=sunny")
    })

    it("returns reasoning items (summary + encrypted_content) and accepts them back", async () => {
      const r = await client.responses.create({
        model: "mock",
        input: "ponder this",
        reasoning: { effort: "low", summary: "auto" },
      })
      const reasoning = r.output[0]
      if (reasoning?.type !== "reasoning") throw new Error("expected a reasoning item first")
      expect(reasoning.summary[0]!.text).toBe("Thinking about: ponder this")
      expect(reasoning.encrypted_content).toMatch(/^mock-sig-/)
      const again = await client.responses.create({
        model: "mock",
        input: [
          { role: "user", content: "ponder this" },
          reasoning,
          { role: "assistant", content: r.output_text },
          { role: "user", content: "and now?" },
        ],
      })
      expect(again.output_text).toBe("echo: and now?")
    })

    it("streams typed events with increasing sequence numbers; finalResponse matches", async () => {
      const stream = client.responses.stream({ model: "mock", input: "stream me please" })
      const events: Array<{ type: string; sequence_number: number }> = []
      for await (const e of stream) events.push(e)
      const final = await stream.finalResponse()
      const types = events.map((e) => e.type)
      expect(types.slice(0, 4)).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
      ])
      expect(types).toContain("response.output_text.delta")
      expect(types.slice(-4)).toEqual([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
      ])
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
      expect(final.output_text).toBe("echo: stream me please")
      expect(final.status).toBe("completed")
      expect(final.usage!.output_tokens).toBeGreaterThan(0)
    })

    it("streams function call arguments as deltas and a done event", async () => {
      const stream = client.responses.stream({
        model: "mock",
        input: "please get_weather",
        tools: [
          {
            type: "function",
            name: "get_weather",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
            strict: false,
          },
        ],
      })
      let deltas = ""
      stream.on("response.function_call_arguments.delta", (e) => {
        deltas += e.delta
      })
      const final = await stream.finalResponse()
      const call = final.output.find((o) => o.type === "function_call")
      if (call?.type !== "function_call") throw new Error("expected a function_call item")
      expect(deltas).toBe(call.arguments)
      expect(JSON.parse(call.arguments)).toEqual({ city: "mock" })
    })
  })

  describe("embeddings and models", () => {
    it("embeds with the SDK's default base64 encoding and with floats, identically", async () => {
      const b64 = await client.embeddings.create({ model: "mock", input: ["alpha", "beta"], dimensions: 4 })
      const floats = await client.embeddings.create({
        model: "mock",
        input: ["alpha", "beta"],
        dimensions: 4,
        encoding_format: "float",
      })
      expect(b64.data).toHaveLength(2)
      expect(b64.data.map((d) => d.index)).toEqual([0, 1])
      for (const [i, d] of floats.data.entries()) {
        expect(d.embedding).toHaveLength(4)
        for (const [j, x] of d.embedding.entries()) expect(b64.data[i]!.embedding[j]).toBeCloseTo(x, 5)
      }
      expect(floats.data[0]!.embedding).not.toEqual(floats.data[1]!.embedding)
      expect(b64.usage.prompt_tokens).toBeGreaterThan(0)
    })

    it("lists and retrieves models", async () => {
      const list = await client.models.list()
      expect(list.data.map((m) => m.id)).toContain("mock")
      const m = await client.models.retrieve("mock")
      expect(m).toMatchObject({ id: "mock", object: "model", owned_by: "mock" })
    })
  })

  describe("errors, as the SDK's own classes", () => {
    it("400 names the field: n > 1", async () => {
      const e = await client.chat.completions
        .create({ model: "mock", messages: [{ role: "user", content: "hi" }], n: 2 })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      expect(e.status).toBe(400)
      expect(e.param).toBe("n")
      expect(e.type).toBe("invalid_request_error")
    })

    it("400 names the field of a malformed message", async () => {
      const e = await client.chat.completions
        .create({
          model: "mock",
          messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x/y.png" } }] }],
        })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      expect(e.param).toBe("messages[0].content[0].image_url.url")
    })

    it("404 for an unknown model, and for retrieving one", async () => {
      const e = await client.chat.completions
        .create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.NotFoundError)
      expect(e.code).toBe("model_not_found")
      await expect(client.models.retrieve("nope")).rejects.toBeInstanceOf(OpenAI.NotFoundError)
    })

    it("429 from the provider, with retry-after", async () => {
      const e = await client.chat.completions
        .create({ model: "mock", messages: [{ role: "user", content: "fail:429" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.RateLimitError)
      expect(e.status).toBe(429)
      expect(e.headers.get("retry-after")).toBe("1")
    })

    it("500 from the provider, streaming or not", async () => {
      const e = await client.chat.completions
        .create({ model: "mock", messages: [{ role: "user", content: "fail:500" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.InternalServerError)
      expect(e.status).toBe(500)
      const s = await client.chat.completions
        .create({ model: "mock", messages: [{ role: "user", content: "fail:500" }], stream: true })
        .catch((x) => x)
      expect(s).toBeInstanceOf(OpenAI.InternalServerError)
    })

    it("400 for a Responses request with an unsupported tool kind, naming it", async () => {
      const e = await client.responses
        .create({ model: "mock", input: "hi", tools: [{ type: "web_search" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      expect(e.param).toBe("tools[0].type")
    })
  })
})

describe("openai SDK → gateway with virtual keys", () => {
  let gw: RunningGateway
  beforeAll(async () => {
    gw = await startGateway({
      providers: { mock: { type: "mock" } },
      models: { mock: { provider: "mock", model: "mock" } },
      keys: [{ name: "team", key: "sk-sluice-team-key-0001" }],
    })
  })
  afterAll(() => gw.close())

  it("401 AuthenticationError for a wrong key, and the key is not echoed", async () => {
    const bad = new OpenAI({ apiKey: "sk-wrong-key-not-valid-9999", baseURL: `${gw.url}/v1`, maxRetries: 0 })
    const e = await bad.chat.completions
      .create({ model: "mock", messages: [{ role: "user", content: "hi" }] })
      .catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(e.status).toBe(401)
    expect(JSON.stringify(e.error)).not.toContain("sk-wrong-key-not-valid-9999")
    const good = new OpenAI({ apiKey: "sk-sluice-team-key-0001", baseURL: `${gw.url}/v1`, maxRetries: 0 })
    const ok = await good.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "hi" }] })
    expect(ok.choices[0]!.message.content).toBe("echo: hi")
  })
})
