/**
 * OpenAI in → the gateway → a mock OpenAI-format upstream, through the `openai`, `deepseek` and
 * `openai-compatible` provider types: what the upstream receives, what the SDK gets back, tool
 * call fragments, DeepSeek reasoning, embeddings, upstream errors and mid-stream failures.
 */
import { OpenAIUpstream } from "@sluice/testing"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const UPSTREAM_KEY = "sk-upstream-secret-1234"
const DEEPSEEK_KEY = "sk-deepseek-secret-5678"

const tools = [
  {
    type: "function" as const,
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
  {
    type: "function" as const,
    function: {
      name: "get_time",
      parameters: { type: "object", properties: { tz: { type: "string" }, utc: { type: "boolean" } } },
    },
  },
]

const functionCalls = (message: OpenAI.Chat.ChatCompletionMessage) =>
  (message.tool_calls ?? []).map((c) => {
    if (c.type !== "function") throw new Error("expected function calls")
    return { id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) as unknown }
  })

describe("openai SDK → gateway → OpenAI-format upstreams", () => {
  let openai: OpenAIUpstream.OpenAIUpstream
  let deepseek: OpenAIUpstream.OpenAIUpstream
  let local: OpenAIUpstream.OpenAIUpstream
  let gw: RunningGateway
  let client: OpenAI

  beforeAll(async () => {
    openai = await OpenAIUpstream.start({ apiKey: UPSTREAM_KEY })
    deepseek = await OpenAIUpstream.start({ apiKey: DEEPSEEK_KEY, prefix: "", flavor: "deepseek" })
    local = await OpenAIUpstream.start({ prefix: "/v1" })
    gw = await startGateway({
      providers: {
        oa: { type: "openai", apiKey: UPSTREAM_KEY, baseUrl: openai.baseUrl },
        ds: { type: "deepseek", apiKey: DEEPSEEK_KEY, baseUrl: deepseek.baseUrl },
        local: { type: "openai-compatible", baseUrl: local.baseUrl },
        wrongkey: { type: "openai", apiKey: "sk-wrong-upstream-key-0000", baseUrl: openai.baseUrl },
      },
      models: {
        gpt: { provider: "oa", model: "gpt-4o-mini" },
        embed: { provider: "oa", model: "text-embedding-3-small" },
        reasoner: { provider: "ds", model: "deepseek-reasoner" },
        local: { provider: "local", model: "local-model" },
        "local-embed": { provider: "local", model: "text-embedding-3-small" },
        ghost: { provider: "oa", model: "ghost-model" },
        wrongkey: { provider: "wrongkey", model: "gpt-4o-mini" },
      },
    })
    client = new OpenAI({ apiKey: "sk-client-key", baseURL: `${gw.url}/v1`, maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await Promise.all([openai.close(), deepseek.close(), local.close()])
  })

  describe("openai provider", () => {
    it("sends the provider key (not the client's), the upstream model and the fields the client set", async () => {
      const r = await client.chat.completions.create({
        model: "gpt",
        messages: [
          { role: "system", content: "sys" },
          { role: "user", content: "hello upstream" },
        ],
        max_tokens: 50,
        temperature: 0.5,
        stop: ["END"],
        metadata: { run: "1" },
        logprobs: true,
      })
      expect(r.choices[0]!.message.content).toBe("echo: hello upstream")
      expect(r.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(0)
      const sent = openai.requests.at(-1)!
      expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`)
      const body = sent.body as Record<string, unknown>
      expect(body).toMatchObject({
        model: "gpt-4o-mini",
        max_completion_tokens: 50,
        temperature: 0.5,
        stop: ["END"],
        metadata: { run: "1" },
        logprobs: true,
      })
      expect(body.max_tokens).toBeUndefined()
      expect(body.messages).toEqual([
        { role: "system", content: "sys" },
        { role: "user", content: "hello upstream" },
      ])
    })

    it("sends images as image_url parts (data: and http URLs)", async () => {
      await client.chat.completions.create({
        model: "gpt",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "what is this" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
            ],
          },
        ],
      })
      const body = openai.requests.at(-1)!.body as { messages: Array<{ content: unknown }> }
      expect(body.messages[0]!.content).toEqual([
        { type: "text", text: "what is this" },
        { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
      ])
    })

    it("keeps two parallel tool calls apart, ids and arguments intact (JSON answer)", async () => {
      const r = await client.chat.completions.create({
        model: "gpt",
        messages: [{ role: "user", content: "call get_weather and get_time" }],
        tools,
      })
      const calls = functionCalls(r.choices[0]!.message)
      expect(calls.map((c) => [c.name, c.args])).toEqual([
        ["get_weather", { city: "value of city" }],
        ["get_time", { tz: "value of tz", utc: true }],
      ])
      expect(new Set(calls.map((c) => c.id)).size).toBe(2)
      expect(r.choices[0]!.finish_reason).toBe("tool_calls")
    })

    it("streams two parallel tool calls: the SDK helper reassembles each from its fragments", async () => {
      const stream = client.chat.completions.stream({
        model: "gpt",
        messages: [{ role: "user", content: "call get_weather and get_time" }],
        tools,
        stream_options: { include_usage: true },
      })
      const done: Array<string> = []
      stream.on("tool_calls.function.arguments.done", (e) => done.push(e.name))
      const final = await stream.finalChatCompletion()
      const calls = functionCalls(final.choices[0]!.message)
      expect(calls.map((c) => [c.name, c.args])).toEqual([
        ["get_weather", { city: "value of city" }],
        ["get_time", { tz: "value of tz", utc: true }],
      ])
      expect(done).toEqual(["get_weather", "get_time"])
      expect(final.usage!.completion_tokens).toBeGreaterThan(0)
      expect((openai.requests.at(-1)!.body as Record<string, unknown>).stream_options).toEqual({ include_usage: true })
    })

    it("keeps interleaved fragments of parallel calls apart and their ids unchanged", async () => {
      const frame = (delta: unknown, finish: string | null = null) =>
        `data: ${JSON.stringify({ id: "chatcmpl-x", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
      openai.once(
        "POST",
        "/v1/chat/completions",
        (() => {
          const frames = [
            frame({ role: "assistant", content: null }),
            frame({
              tool_calls: [
                { index: 0, id: "call_AAA", type: "function", function: { name: "get_weather", arguments: "" } },
              ],
            }),
            frame({
              tool_calls: [
                { index: 1, id: "call_BBB", type: "function", function: { name: "get_time", arguments: '{"tz":' } },
              ],
            }),
            frame({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
            frame({ tool_calls: [{ index: 1, function: { arguments: '"UTC"}' } }] }),
            frame({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
            frame({}, "tool_calls"),
            "data: [DONE]\n\n",
          ]
          return async (_req, res) => {
            res.writeHead(200, { "content-type": "text/event-stream" })
            for (const f of frames) res.write(f)
            res.end()
          }
        })(),
      )
      const final = await client.chat.completions
        .stream({ model: "gpt", messages: [{ role: "user", content: "both" }], tools })
        .finalChatCompletion()
      expect(functionCalls(final.choices[0]!.message)).toEqual([
        { id: "call_AAA", name: "get_weather", args: { city: "Paris" } },
        { id: "call_BBB", name: "get_time", args: { tz: "UTC" } },
      ])
    })

    it("sends tool results back as tool messages right after the assistant turn", async () => {
      const r = await client.chat.completions.create({
        model: "gpt",
        tools,
        messages: [
          { role: "user", content: "call get_weather and get_time" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
              { id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } },
            ],
          },
          { role: "tool", tool_call_id: "call_1", content: "rain" },
          { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "noon" }] },
        ],
      })
      expect(r.choices[0]!.message.content).toBe("results: rain; noon")
      const body = openai.requests.at(-1)!.body as { messages: Array<Record<string, unknown>> }
      expect(body.messages.slice(2)).toEqual([
        { role: "tool", tool_call_id: "call_1", content: "rain" },
        { role: "tool", tool_call_id: "call_2", content: "noon" },
      ])
    })

    it("serves responses.stream from a chat completions upstream, with parallel function calls", async () => {
      const stream = client.responses.stream({
        model: "gpt",
        input: "call get_weather and get_time",
        tools: tools.map((t) => ({
          type: "function" as const,
          name: t.function.name,
          parameters: t.function.parameters,
          strict: false,
        })),
      })
      const final = await stream.finalResponse()
      const calls = final.output.flatMap((o) => (o.type === "function_call" ? [[o.name, JSON.parse(o.arguments)]] : []))
      expect(calls).toEqual([
        ["get_weather", { city: "value of city" }],
        ["get_time", { tz: "value of tz", utc: true }],
      ])
    })

    it("embeds in input order (the upstream answers out of order), base64 by default", async () => {
      const r = await client.embeddings.create({ model: "embed", input: ["first", "second", "third"] })
      expect(r.data.map((d) => d.index)).toEqual([0, 1, 2])
      for (const [i, text] of ["first", "second", "third"].entries()) {
        const expected = OpenAIUpstream.vectorFor(text)
        for (const [j, x] of expected.entries()) expect(r.data[i]!.embedding[j]).toBeCloseTo(x, 5)
      }
      expect((openai.requests.at(-1)!.body as Record<string, unknown>).model).toBe("text-embedding-3-small")
    })
  })

  describe("upstream errors, as the SDK's own classes", () => {
    it("429 keeps its status and retry-after", async () => {
      const e = await client.chat.completions
        .create({ model: "gpt", messages: [{ role: "user", content: "fail:429" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.RateLimitError)
      expect(e.headers.get("retry-after")).toBe("2")
    })

    it("500 stays a 500, streaming too", async () => {
      const e = await client.chat.completions
        .create({ model: "gpt", messages: [{ role: "user", content: "fail:500" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.InternalServerError)
      const s = await client.chat.completions
        .create({ model: "gpt", messages: [{ role: "user", content: "fail:500" }], stream: true })
        .catch((x) => x)
      expect(s).toBeInstanceOf(OpenAI.InternalServerError)
    })

    it("404 for a model the upstream does not have", async () => {
      const e = await client.chat.completions
        .create({ model: "ghost", messages: [{ role: "user", content: "hi" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.NotFoundError)
      expect(e.message).toContain("ghost-model")
    })

    it("401 from the upstream never echoes the provider key, masked or not", async () => {
      const e = await client.chat.completions
        .create({ model: "wrongkey", messages: [{ role: "user", content: "hi" }] })
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.APIError)
      expect(e.status).toBe(401)
      const text = JSON.stringify(e.error) + e.message
      expect(text).not.toContain("sk-wrong-upstream-key-0000")
      expect(text).not.toContain("0000")
      expect(text).not.toContain("*****")
    })

    it("a connection reset mid-stream ends the stream with an error frame the SDK throws", async () => {
      const s = await client.chat.completions.create({
        model: "gpt",
        messages: [{ role: "user", content: "reset-stream please" }],
        stream: true,
      })
      const seen: Array<string> = []
      const run = async () => {
        for await (const c of s) seen.push(c.choices[0]?.delta.content ?? "")
      }
      const e = await run().catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.APIError)
      expect(e.message).toContain("mid-stream")
      expect(seen.length).toBeGreaterThan(0)
    })

    it("an upstream error frame mid-stream reaches the client as an error frame", async () => {
      const e = await client.chat.completions
        .stream({ model: "gpt", messages: [{ role: "user", content: "stream-error now" }] })
        .finalChatCompletion()
        .catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.APIError)
      expect(e.message).toContain("failed mid-stream")
    })

    it("a client that goes away closes the upstream connection", async () => {
      const controller = new AbortController()
      const s = await client.chat.completions.create(
        {
          model: "gpt",
          messages: [{ role: "user", content: "delay:300 a fairly long answer that takes seconds to stream" }],
          stream: true,
        },
        { signal: controller.signal },
      )
      const upstreamCall = openai.requests.at(-1)!
      for await (const _ of s) {
        controller.abort()
        break
      }
      const closedAfter = await Promise.race([
        upstreamCall.closed,
        new Promise((r) => setTimeout(() => r("open"), 1000)),
      ])
      expect(closedAfter).not.toBe("open")
    })
  })

  describe("deepseek provider", () => {
    it("turns reasoning_content into reasoning, sends max_tokens, and counts cache hits", async () => {
      const r = await client.chat.completions.create({
        model: "reasoner",
        messages: [{ role: "user", content: "why is the sky blue" }],
        max_completion_tokens: 300,
        reasoning_effort: "high",
      })
      const message = r.choices[0]!.message as OpenAI.Chat.ChatCompletionMessage & { reasoning_content?: string }
      expect(message.reasoning_content).toBe("Reasoning about: why is the sky blue")
      expect(message.content).toBe("echo: why is the sky blue")
      expect(r.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(0)
      expect(r.usage!.completion_tokens_details!.reasoning_tokens).toBeGreaterThan(0)
      const sent = deepseek.requests.at(-1)!
      expect(sent.path).toBe("/chat/completions")
      expect(sent.headers.authorization).toBe(`Bearer ${DEEPSEEK_KEY}`)
      const body = sent.body as Record<string, unknown>
      expect(body.max_tokens).toBe(300)
      expect(body.max_completion_tokens).toBeUndefined()
      expect(body.reasoning_effort).toBeUndefined()
    })

    it("streams reasoning deltas before the content", async () => {
      const s = await client.chat.completions.create({
        model: "reasoner",
        messages: [{ role: "user", content: "stream your thoughts" }],
        stream: true,
      })
      let reasoning = ""
      let content = ""
      let reasoningAfterContent = false
      for await (const c of s) {
        const d = c.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined
        if (d?.reasoning_content) {
          reasoning += d.reasoning_content
          if (content !== "") reasoningAfterContent = true
        }
        if (d?.content) content += d.content
      }
      expect(reasoning).toBe("Reasoning about: stream your thoughts")
      expect(content).toBe("echo: stream your thoughts")
      expect(reasoningAfterContent).toBe(false)
    })

    it("drops reasoning_content from history (DeepSeek rejects it in input messages)", async () => {
      const r = await client.chat.completions.create({
        model: "reasoner",
        messages: [
          { role: "user", content: "first" },
          {
            role: "assistant",
            content: "answer one",
            reasoning_content: "secret thoughts",
          } as OpenAI.Chat.ChatCompletionMessageParam,
          { role: "user", content: "second" },
        ],
      })
      expect(r.choices[0]!.message.content).toBe("echo: second")
      const body = deepseek.requests.at(-1)!.body as { messages: Array<Record<string, unknown>> }
      expect(body.messages[1]).toEqual({ role: "assistant", content: "answer one" })
    })

    it("gives Responses API clients a reasoning item", async () => {
      const r = await client.responses.create({ model: "reasoner", input: "think" })
      expect(r.output.map((o) => o.type)).toEqual(["reasoning", "message"])
      const reasoning = r.output[0]
      if (reasoning?.type !== "reasoning") throw new Error("expected reasoning")
      expect(reasoning.summary[0]!.text).toBe("Reasoning about: think")
      expect(r.output_text).toBe("echo: think")
    })
  })

  describe("openai-compatible provider", () => {
    it("needs no key and sends no Authorization header", async () => {
      const r = await client.chat.completions.create({
        model: "local",
        messages: [{ role: "user", content: "local hi" }],
        max_tokens: 20,
      })
      expect(r.choices[0]!.message.content).toBe("echo: local hi")
      const sent = local.requests.at(-1)!
      expect(sent.headers.authorization).toBeUndefined()
      expect((sent.body as Record<string, unknown>).max_tokens).toBe(20)
    })

    it("streams and embeds", async () => {
      const s = await client.chat.completions.create({
        model: "local",
        messages: [{ role: "user", content: "a b c" }],
        stream: true,
      })
      let text = ""
      for await (const c of s) text += c.choices[0]?.delta.content ?? ""
      expect(text).toBe("echo: a b c")
      const e = await client.embeddings.create({ model: "local-embed", input: "x", encoding_format: "float" })
      expect(e.data[0]!.embedding).toEqual(OpenAIUpstream.vectorFor("x"))
    })
  })
})
