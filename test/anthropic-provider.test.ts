/**
 * The `anthropic` provider on its own against the mock Anthropic upstream: canonical requests
 * from other formats made acceptable (max_tokens supplied, tool turns, system messages anywhere,
 * temperature clamped), model listing, options checked at start, a dead upstream, and a stream
 * the consumer abandons closing the upstream connection.
 */
import type { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Either, Fiber, Redacted, Stream } from "effect"
import { Provider } from "@sluice/anthropic"
import type { ChatRequest } from "@sluice/schema"
import { AnthropicUpstream } from "@sluice/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const key = "sk-ant-provider-test-key-1"
const run = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) =>
  Effect.runPromise(Effect.provide(effect, NodeHttpClient.layerUndici))

const make = (baseUrl: string, options?: Record<string, unknown>) =>
  Provider.make("claude", {
    type: "anthropic",
    apiKey: Redacted.make(key),
    baseUrl,
    ...(options !== undefined ? { options } : {}),
  })

const ctx = { requestId: "r1" }

describe("anthropic provider", () => {
  let upstream: AnthropicUpstream.AnthropicMock
  beforeAll(async () => {
    upstream = await AnthropicUpstream.start({ apiKey: key })
  })
  afterAll(() => upstream.close())

  const openaiStyle: ChatRequest = {
    model: "claude-haiku-4-5-20251001",
    stream: false,
    temperature: 1.6,
    messages: [
      { role: "system", parts: [{ type: "text", text: "You are terse." }] },
      { role: "user", parts: [{ type: "text", text: "weather in Oslo and Rome?" }] },
      {
        role: "assistant",
        parts: [
          { type: "text", text: "" },
          { type: "tool_call", id: "call_1", name: "weather", arguments: '{"city":"Oslo"}' },
          { type: "tool_call", id: "call_2", name: "weather", arguments: '{"city":"Rome"}' },
        ],
      },
      {
        role: "tool",
        parts: [{ type: "tool_result", id: "call_1", name: "weather", content: [{ type: "text", text: "-3C" }] }],
      },
      {
        role: "tool",
        parts: [{ type: "tool_result", id: "call_2", name: "weather", content: [{ type: "text", text: "18C" }] }],
      },
      { role: "system", parts: [{ type: "text", text: "Answer in one line." }] },
    ],
    tools: [{ name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } }],
  }

  it("makes an OpenAI-shaped history acceptable to Anthropic (the mock refuses anything less)", async () => {
    upstream.next({ content: [AnthropicUpstream.text("Oslo -3C, Rome 18C.")], usage: { output_tokens: 9 } })
    const r = await run(Effect.flatMap(make(upstream.url), (p) => p.chat(openaiStyle, ctx)))
    expect(r.parts).toEqual([{ type: "text", text: "Oslo -3C, Rome 18C." }])
    expect(r.finishReason).toBe("stop")
    const body = upstream.messages().at(-1)!
    expect(body.max_tokens).toBe(4096)
    expect(body.temperature).toBe(1)
    expect(body.system).toEqual([
      { type: "text", text: "You are terse." },
      { type: "text", text: "Answer in one line." },
    ])
    expect((body.messages as Array<{ role: string }>).map((m) => m.role)).toEqual(["user", "assistant", "user"])
  })

  it("takes max_tokens from options.defaultMaxTokens", async () => {
    await run(Effect.flatMap(make(upstream.url, { defaultMaxTokens: 777 }), (p) => p.chat(openaiStyle, ctx)))
    expect(upstream.messages().at(-1)!.max_tokens).toBe(777)
  })

  it("refuses bad options at start, naming the path", async () => {
    const error = await Effect.runPromise(
      Effect.flip(Effect.provide(make(upstream.url, { defaultMaxTokens: -1, typo: true }), NodeHttpClient.layerUndici)),
    )
    const message = error.message
    expect(message).toContain("providers.claude.options")
  })

  it("streams canonical events with tool-call fragments", async () => {
    upstream.next({ content: [AnthropicUpstream.toolUse("weather", { city: "Paris" }, "toolu_9")] })
    const events = await run(
      Effect.flatMap(make(upstream.url), (p) =>
        Stream.runCollect(
          p.chatStream({ ...openaiStyle, stream: true, messages: openaiStyle.messages.slice(0, 2) }, ctx),
        ),
      ),
    )
    const list = Array.from(events)
    expect(list[0]).toMatchObject({ _tag: "start" })
    const args = list.flatMap((e) => (e._tag === "tool_call_delta" ? [e.arguments] : []))
    expect(args.length).toBeGreaterThan(1)
    expect(args.join("")).toBe('{"city":"Paris"}')
    expect(list.at(-1)).toMatchObject({ _tag: "finish", finishReason: "tool_calls" })
  })

  it("lists the upstream's models as provider/model", async () => {
    const models = await run(Effect.flatMap(make(upstream.url), (p) => p.listModels(ctx)))
    expect(models.map((m) => m.id)).toContain("claude/claude-sonnet-4-5-20250929")
    expect(models[0]).toMatchObject({
      provider: "claude",
      displayName: expect.any(String),
      created: expect.any(Number),
    })
  })

  it("a dead upstream is a 502 UpstreamError naming the provider", async () => {
    const r = await run(Effect.either(Effect.flatMap(make("http://127.0.0.1:9"), (p) => p.chat(openaiStyle, ctx))))
    expect(Either.isLeft(r) && r.left).toMatchObject({ _tag: "UpstreamError", status: 502, provider: "claude" })
  })

  it("closes the upstream connection when the consumer stops reading", async () => {
    upstream.next({ content: [AnthropicUpstream.text("a slow answer that goes on and on")], delayMs: 200 })
    const before = upstream.upstream.requests.length
    await run(
      Effect.gen(function* () {
        const p = yield* make(upstream.url)
        const fiber = yield* Effect.fork(Stream.runDrain(p.chatStream({ ...openaiStyle, stream: true }, ctx)))
        yield* Effect.sleep("300 millis")
        yield* Fiber.interrupt(fiber)
      }),
    )
    const recorded = upstream.upstream.requests[before]!
    const closedAfter = await Promise.race([recorded.closed, new Promise<number>((r) => setTimeout(() => r(-1), 2000))])
    expect(closedAfter).toBeGreaterThan(0)
    expect(closedAfter).toBeLessThan(1500)
  })
})

describe("anthropic provider type", () => {
  it("is registered with Anthropic's base URL and needs a key", () => {
    expect(Provider.providerType).toMatchObject({
      type: "anthropic",
      defaultBaseUrl: "https://api.anthropic.com",
      requiresKey: true,
    })
  })
})
