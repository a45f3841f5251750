/**
 * Anthropic SDK → gateway → the `anthropic` provider type → the mock Anthropic upstream (which
 * refuses what Anthropic refuses): headers and keys, JSON and streamed answers (tool calls as
 * input_json_delta, thinking with signature_delta), signatures sent back untouched, role
 * alternation fixed, count_tokens, usage with cache counts, and upstream errors in the client's
 * own error classes — before the stream and in the middle of it.
 */
import Anthropic from "@anthropic-ai/sdk"
import { AnthropicUpstream } from "@sluice/testing"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const providerKey = "sk-ant-provider-secret-0001"

describe("Anthropic SDK → gateway → anthropic provider → mock Anthropic", () => {
  let upstream: AnthropicUpstream.AnthropicMock
  let gw: RunningGateway
  let client: Anthropic
  const model = "claude-sonnet-4-5-20250929"

  beforeAll(async () => {
    upstream = await AnthropicUpstream.start({ apiKey: providerKey })
    gw = await startGateway({
      providers: {
        claude: { type: "anthropic", apiKey: providerKey, baseUrl: upstream.url },
        wrongkey: { type: "anthropic", apiKey: "sk-ant-revoked-key-0000", baseUrl: upstream.url },
      },
      models: {
        claude: { provider: "claude", model },
        broken: { provider: "wrongkey", model },
      },
    })
    client = new Anthropic({ apiKey: "sk-ant-client-key", baseURL: gw.url, maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await upstream.close()
  })
  beforeEach(() => upstream.script((body) => ({ content: [AnthropicUpstream.text(`claude heard ${body.model}`)] })))

  it("sends the provider's key, anthropic-version and the upstream model; answers as a Message", async () => {
    const before = upstream.upstream.requests.length
    const msg = await client.messages.create({
      model: "claude",
      max_tokens: 300,
      temperature: 0.5,
      stop_sequences: ["STOP"],
      metadata: { user_id: "user-42" },
      messages: [{ role: "user", content: "hello" }],
    })
    expect(msg.content).toEqual([{ type: "text", text: `claude heard ${model}` }])
    expect(msg.model).toBe(model)
    expect(msg.stop_reason).toBe("end_turn")
    const sent = upstream.upstream.requests[before]!
    expect(sent.headers["x-api-key"]).toBe(providerKey)
    expect(sent.headers["anthropic-version"]).toBe("2023-06-01")
    expect(sent.body).toMatchObject({
      model,
      max_tokens: 300,
      temperature: 0.5,
      stop_sequences: ["STOP"],
      metadata: { user_id: "user-42" },
      messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }],
    })
    expect(JSON.stringify(sent.body)).not.toContain("sk-ant-client-key")
  })

  it("keeps cache usage: input_tokens excludes cache reads and writes both ways", async () => {
    upstream.next({
      content: [AnthropicUpstream.text("cached")],
      usage: { input_tokens: 7, cache_read_input_tokens: 100, cache_creation_input_tokens: 50, output_tokens: 3 },
    })
    const msg = await client.messages.create({
      model: "claude",
      max_tokens: 50,
      messages: [{ role: "user", content: "x" }],
    })
    expect(msg.usage).toMatchObject({
      input_tokens: 7,
      output_tokens: 3,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 50,
    })
  })

  it("merges consecutive same-role turns and gathers system blocks (the mock refuses otherwise)", async () => {
    const msg = await client.messages.create({
      model: "claude",
      max_tokens: 100,
      system: [
        { type: "text", text: "rule one" },
        { type: "text", text: "rule two" },
      ],
      messages: [
        { role: "user", content: "first" },
        { role: "user", content: [{ type: "text", text: "second" }] },
      ],
    })
    expect(msg.content[0]).toMatchObject({ type: "text" })
    const body = upstream.messages().at(-1)!
    expect(body.system).toEqual([
      { type: "text", text: "rule one" },
      { type: "text", text: "rule two" },
    ])
    expect(body.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "first" },
          { type: "text", text: "second" },
        ],
      },
    ])
  })

  const tools: Array<Anthropic.Tool> = [
    {
      name: "lookup",
      description: "Look a thing up",
      input_schema: { type: "object", properties: { q: { type: "string" }, n: { type: "integer" } }, required: ["q"] },
    },
  ]

  it("streams a tool call as input_json_delta fragments and completes the round trip", async () => {
    const input = { q: "the answer to everything", n: 42, nested: { list: [1, 2, 3] } }
    upstream.next({
      content: [AnthropicUpstream.text("Let me look."), AnthropicUpstream.toolUse("lookup", input, "toolu_01abc")],
    })
    const stream = client.messages.stream({
      model: "claude",
      max_tokens: 500,
      tools,
      messages: [{ role: "user", content: "look it up" }],
    })
    const fragments: Array<string> = []
    stream.on("inputJson", (partial) => fragments.push(partial))
    const final = await stream.finalMessage()
    expect(fragments.length).toBeGreaterThanOrEqual(3)
    expect(fragments.join("")).toBe(JSON.stringify(input))
    expect(final.stop_reason).toBe("tool_use")
    expect(final.content).toEqual([
      { type: "text", text: "Let me look." },
      { type: "tool_use", id: "toolu_01abc", name: "lookup", input },
    ])
    expect(upstream.messages().at(-1)!.tools).toEqual(tools)

    upstream.script((body) => {
      const last = (body.messages as Array<{ content: Array<{ type: string; content?: unknown }> }>).at(-1)!
      return { content: [AnthropicUpstream.text(`got ${JSON.stringify(last.content[0]?.content)}`)] }
    })
    const second = await client.messages.create({
      model: "claude",
      max_tokens: 500,
      tools,
      messages: [
        { role: "user", content: "look it up" },
        { role: "assistant", content: final.content },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_01abc", content: "42", is_error: false },
            { type: "text", text: "thanks" },
          ],
        },
      ],
    })
    expect(second.content).toEqual([{ type: "text", text: 'got "42"' }])
  })

  it("thinking: signatures come through streamed and not, and go back untouched", async () => {
    const thought = AnthropicUpstream.thinking("Consider the scattering of light by the atmosphere.")
    const turn = {
      content: [
        thought,
        { type: "redacted_thinking" as const, data: "EnRedacted==" },
        AnthropicUpstream.text("Rayleigh."),
      ],
    }
    const params = {
      model: "claude",
      max_tokens: 4000,
      thinking: { type: "enabled" as const, budget_tokens: 2000 },
      messages: [{ role: "user" as const, content: "why blue?" }],
    }
    upstream.next(turn)
    const msg = await client.messages.create(params)
    expect(msg.content).toEqual(turn.content)
    expect(upstream.messages().at(-1)!.thinking).toEqual({ type: "enabled", budget_tokens: 2000 })

    upstream.next(turn)
    const stream = client.messages.stream(params)
    const signatures: Array<string> = []
    stream.on("signature", (s) => signatures.push(s))
    const final = await stream.finalMessage()
    expect(final.content).toEqual(turn.content)
    expect(signatures).toEqual([(thought as { signature: string }).signature])

    // The mock refuses a thinking block whose signature does not match its text.
    const next = await client.messages.create({
      ...params,
      messages: [...params.messages, { role: "assistant", content: final.content }, { role: "user", content: "more" }],
    })
    expect(next.content[0]).toMatchObject({ type: "text" })
    const sentBack = (upstream.messages().at(-1)!.messages as Array<{ content: unknown }>)[1]!.content
    expect(sentBack).toEqual(turn.content)
  })

  it("countTokens goes to the upstream's count_tokens without sampling fields", async () => {
    const n = await client.messages.countTokens({
      model: "claude",
      system: "sys",
      tools,
      messages: [{ role: "user", content: "count these words please" }],
    })
    expect(n.input_tokens).toBeGreaterThan(0)
    const sent = upstream.upstream.requests.at(-1)!
    expect(sent.path).toBe("/v1/messages/count_tokens")
    expect(Object.keys(sent.body as object).sort()).toEqual(["messages", "model", "system", "tools"])
  })

  describe("upstream errors", () => {
    it("400 from the upstream is a BadRequestError with Anthropic's message", async () => {
      upstream.next(
        AnthropicUpstream.failure(400, "invalid_request_error", "prompt is too long: 300000 tokens > 200000 maximum"),
      )
      const err = await client.messages
        .create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.BadRequestError)
      expect((err as Error).message).toContain("prompt is too long")
    })

    it("429 with retry-after is a RateLimitError carrying retry-after", async () => {
      upstream.next({
        ...AnthropicUpstream.failure(429, "rate_limit_error", "slow down"),
        headers: { "retry-after": "7" },
      })
      const err = await client.messages
        .create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.RateLimitError)
      expect((err as InstanceType<typeof Anthropic.RateLimitError>).headers?.get("retry-after")).toBe("7")
    })

    it("529 overloaded before a stream starts is an HTTP 529 overloaded_error", async () => {
      upstream.next(AnthropicUpstream.failure(529, "overloaded_error", "Overloaded"))
      const err = await client.messages
        .stream({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
        .finalMessage()
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.InternalServerError)
      expect((err as InstanceType<typeof Anthropic.InternalServerError>).status).toBe(529)
      expect((err as InstanceType<typeof Anthropic.InternalServerError>).error).toMatchObject({
        error: { type: "overloaded_error" },
      })
    })

    it("an error event mid-stream reaches the SDK as an error event", async () => {
      upstream.next({
        content: [AnthropicUpstream.text("partial answer"), AnthropicUpstream.text("never sent")],
        streamError: { afterBlocks: 1, type: "overloaded_error", message: "Overloaded" },
      })
      const stream = client.messages.stream({
        model: "claude",
        max_tokens: 10,
        messages: [{ role: "user", content: "x" }],
      })
      const texts: Array<string> = []
      stream.on("text", (t) => texts.push(t))
      const err = await stream.finalMessage().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.APIError)
      expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        type: "error",
        error: { type: "overloaded_error" },
      })
      expect(texts.join("")).toBe("partial answer")
    })

    it("a provider key the upstream refuses is an AuthenticationError, and no key is echoed", async () => {
      const err = await client.messages
        .create({ model: "broken", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError)
      expect((err as Error).message).not.toContain("sk-ant-revoked")
    })
  })
})

describe("Anthropic SDK → gateway with virtual keys", () => {
  const key = "sk-test-anthropic-0123456789abcdef"
  let gw: RunningGateway
  beforeAll(async () => {
    gw = await startGateway({
      providers: { mock: { type: "mock" } },
      models: { mock: { provider: "mock", model: "mock" } },
      keys: [{ name: "anthropic-tests", key }],
    })
  })
  afterAll(() => gw.close())

  it("401 authentication_error for an unknown key; the key works in x-api-key and as a Bearer token", async () => {
    const params = { model: "mock", max_tokens: 20, messages: [{ role: "user" as const, content: "hi" }] }
    const wrong = new Anthropic({ apiKey: "sk-not-a-key", baseURL: gw.url, maxRetries: 0 })
    const err = await wrong.messages.create(params).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError)
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({
      type: "error",
      error: { type: "authentication_error" },
    })
    expect((err as Error).message).not.toContain("sk-not-a-key")

    const viaHeader = new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 })
    expect((await viaHeader.messages.create(params)).content).toEqual([{ type: "text", text: "echo: hi" }])
    const viaBearer = new Anthropic({ apiKey: null, authToken: key, baseURL: gw.url, maxRetries: 0 })
    expect((await viaBearer.messages.create(params)).content).toEqual([{ type: "text", text: "echo: hi" }])
  })
})
