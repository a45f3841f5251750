/**
 * The official @anthropic-ai/sdk against the running gateway, answered by the built-in mock
 * provider: messages.create, messages.stream, tool use, thinking, countTokens, models, and each
 * error kind raised as the SDK's own error class.
 */
import Anthropic from "@anthropic-ai/sdk"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

describe("Anthropic SDK → gateway → mock provider", () => {
  let gw: RunningGateway
  let client: Anthropic
  beforeAll(async () => {
    gw = await startGateway({
      providers: { mock: { type: "mock" } },
      models: { mock: { provider: "mock", model: "mock", displayName: "Mock model" } },
    })
    client = new Anthropic({ apiKey: "sk-ant-client", baseURL: gw.url, maxRetries: 0 })
  })
  afterAll(() => gw.close())

  it("messages.create answers a Message with text, stop_reason and usage", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 200,
      system: "be brief",
      messages: [{ role: "user", content: "hello there" }],
    })
    expect(msg.type).toBe("message")
    expect(msg.role).toBe("assistant")
    expect(msg.id).toMatch(/^msg_/)
    expect(msg.content).toEqual([{ type: "text", text: "echo: hello there" }])
    expect(msg.stop_reason).toBe("end_turn")
    expect(msg.stop_sequence).toBeNull()
    expect(msg.usage.input_tokens).toBeGreaterThan(0)
    expect(msg.usage.output_tokens).toBeGreaterThan(0)
    expect(msg.usage.cache_read_input_tokens).toBe(0)
  })

  it("reports max_tokens when the answer was cut", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 1,
      messages: [{ role: "user", content: "a long question that will not fit in one token" }],
    })
    expect(msg.stop_reason).toBe("max_tokens")
  })

  it("messages.stream delivers text events and a finalMessage()", async () => {
    const stream = client.messages.stream({
      model: "mock",
      max_tokens: 200,
      messages: [{ role: "user", content: [{ type: "text", text: "stream this answer please" }] }],
    })
    const deltas: Array<string> = []
    stream.on("text", (d) => deltas.push(d))
    const final = await stream.finalMessage()
    expect(deltas.length).toBeGreaterThan(1)
    expect(deltas.join("")).toBe("echo: stream this answer please")
    expect(final.content).toEqual([{ type: "text", text: "echo: stream this answer please" }])
    expect(final.stop_reason).toBe("end_turn")
    expect(final.usage.output_tokens).toBeGreaterThan(0)
    expect(final.usage.input_tokens).toBeGreaterThan(0)
  })

  it("a raw stream has Anthropic's event order", async () => {
    const stream = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      stream: true,
      messages: [{ role: "user", content: "order" }],
    })
    const types: Array<string> = []
    for await (const e of stream) types.push(e.type)
    expect(types[0]).toBe("message_start")
    expect(types[1]).toBe("content_block_start")
    expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"])
  })

  const weather: Anthropic.Tool = {
    name: "get_weather",
    description: "Weather for a city",
    input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  }

  it("tool use round trip: tool_use, then tool_result answered", async () => {
    const first = await client.messages.create({
      model: "mock",
      max_tokens: 200,
      tools: [weather],
      messages: [{ role: "user", content: "call get_weather for Paris" }],
    })
    expect(first.stop_reason).toBe("tool_use")
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")
    expect(use).toBeDefined()
    expect(use!.name).toBe("get_weather")
    expect(use!.input).toEqual({ city: "mock" })

    const second = await client.messages.create({
      model: "mock",
      max_tokens: 200,
      tools: [weather],
      messages: [
        { role: "user", content: "call get_weather for Paris" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use!.id, content: [{ type: "text", text: "sunny, 21C" }] }],
        },
      ],
    })
    expect(second.stop_reason).toBe("end_turn")
    expect(second.content).toEqual([{ type: "text", text: "tool result: get_weather=sunny, 21C" }])
  })

  it("streams a tool call as input_json_delta fragments the SDK assembles", async () => {
    const stream = client.messages.stream({
      model: "mock",
      max_tokens: 200,
      tools: [weather],
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [{ role: "user", content: "weather?" }],
    })
    const fragments: Array<string> = []
    stream.on("inputJson", (partial) => fragments.push(partial))
    const final = await stream.finalMessage()
    expect(fragments.length).toBeGreaterThan(1)
    expect(final.stop_reason).toBe("tool_use")
    expect(final.content).toHaveLength(1)
    expect(final.content[0]).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "mock" } })
  })

  it("thinking: a signed thinking block comes first, streamed and not", async () => {
    const params = {
      model: "mock",
      max_tokens: 4000,
      thinking: { type: "enabled" as const, budget_tokens: 2048 },
      messages: [{ role: "user" as const, content: "why is the sky blue" }],
    }
    const msg = await client.messages.create(params)
    const thinking = msg.content[0]
    expect(thinking?.type).toBe("thinking")
    if (thinking?.type !== "thinking") throw new Error("expected thinking")
    expect(thinking.thinking).toContain("why is the sky blue")
    expect(thinking.signature).toMatch(/^mock-sig-/)
    expect(msg.content[1]).toEqual({ type: "text", text: "echo: why is the sky blue" })

    const stream = client.messages.stream(params)
    const signatures: Array<string> = []
    stream.on("signature", (s) => signatures.push(s))
    const final = await stream.finalMessage()
    expect(final.content[0]).toEqual(thinking)
    expect(signatures).toEqual([thinking.signature])

    // The signed block goes back in the next turn untouched.
    const next = await client.messages.create({
      ...params,
      messages: [
        ...params.messages,
        { role: "assistant", content: msg.content },
        { role: "user", content: "and at sunset?" },
      ],
    })
    expect(next.content.at(-1)).toEqual({ type: "text", text: "echo: and at sunset?" })
  })

  it("countTokens answers input_tokens", async () => {
    const short = await client.messages.countTokens({ model: "mock", messages: [{ role: "user", content: "hi" }] })
    const long = await client.messages.countTokens({
      model: "mock",
      system: "a system prompt adds tokens too",
      messages: [{ role: "user", content: "hi, and a much longer question than before" }],
    })
    expect(short.input_tokens).toBeGreaterThan(0)
    expect(long.input_tokens).toBeGreaterThan(short.input_tokens)
  })

  it("models.list and models.retrieve in Anthropic's shape", async () => {
    const page = await client.models.list()
    expect(page.data).toEqual([
      { type: "model", id: "mock", display_name: "Mock model", created_at: "1970-01-01T00:00:00Z" },
    ])
    const one = await client.models.retrieve("mock")
    expect(one.id).toBe("mock")
    await expect(client.models.retrieve("nope")).rejects.toBeInstanceOf(Anthropic.NotFoundError)
  })

  it("without anthropic-version, GET /v1/models is not Anthropic's", async () => {
    const res = await fetch(`${gw.url}/v1/models`)
    const body = (await res.json()) as Record<string, unknown>
    expect(body.has_more).toBeUndefined()
  })

  describe("errors as the SDK's own classes", () => {
    it("400 invalid_request_error for a missing max_tokens, naming the field", async () => {
      const err = await client.messages
        .create({ model: "mock", messages: [{ role: "user", content: "hi" }] } as unknown as Parameters<
          typeof client.messages.create
        >[0])
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.BadRequestError)
      const e = err as InstanceType<typeof Anthropic.BadRequestError>
      expect(e.status).toBe(400)
      expect(e.error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } })
      expect(e.message).toContain("max_tokens")
      expect(e.requestID).toBeTruthy()
    })

    it("400 naming a bad content block", async () => {
      const err = await client.messages
        .create({
          model: "mock",
          max_tokens: 10,
          messages: [{ role: "user", content: [{ type: "video", url: "x" }] }],
        } as unknown as Parameters<typeof client.messages.create>[0])
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.BadRequestError)
      expect((err as Error).message).toContain("messages.0.content.0")
    })

    it("404 not_found_error for an unknown model", async () => {
      const err = await client.messages
        .create({ model: "no-such-model", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.NotFoundError)
      expect((err as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({
        error: { type: "not_found_error" },
      })
    })

    it("429 rate_limit_error with retry-after, streaming or not", async () => {
      const params = { model: "mock", max_tokens: 10, messages: [{ role: "user" as const, content: "fail:429" }] }
      const err = await client.messages.create(params).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.RateLimitError)
      const e = err as InstanceType<typeof Anthropic.RateLimitError>
      expect(e.error).toMatchObject({ error: { type: "rate_limit_error" } })
      expect(e.headers?.get("retry-after")).toBe("1")
      const streamed = await client.messages
        .stream(params)
        .finalMessage()
        .catch((x: unknown) => x)
      expect(streamed).toBeInstanceOf(Anthropic.RateLimitError)
    })

    it("500 api_error", async () => {
      const err = await client.messages
        .create({ model: "mock", max_tokens: 10, messages: [{ role: "user", content: "fail:500" }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.InternalServerError)
      expect((err as InstanceType<typeof Anthropic.InternalServerError>).error).toMatchObject({
        error: { type: "api_error" },
      })
    })

    it("529/503 overloaded_error", async () => {
      const err = await client.messages
        .create({ model: "mock", max_tokens: 10, messages: [{ role: "user", content: "fail:529" }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.InternalServerError)
      const e = err as InstanceType<typeof Anthropic.InternalServerError>
      expect(e.status).toBe(529)
      expect(e.error).toMatchObject({ error: { type: "overloaded_error" } })
    })

    it("403 permission_error", async () => {
      const err = await client.messages
        .create({ model: "mock", max_tokens: 10, messages: [{ role: "user", content: "fail:403" }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError)
      expect((err as InstanceType<typeof Anthropic.PermissionDeniedError>).error).toMatchObject({
        error: { type: "permission_error" },
      })
    })

    it("a malformed JSON body is a 400 in Anthropic's shape", async () => {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01" },
        body: "{not json",
      })
      expect(res.status).toBe(400)
      const body = (await res.json()) as { type: string; error: { type: string; message: string } }
      expect(body.type).toBe("error")
      expect(body.error.type).toBe("invalid_request_error")
    })
  })
})
