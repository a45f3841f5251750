import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { MockProvider } from "@sluice/core"
import { Stub } from "@sluice/testing"

const mock = MockProvider.makeProvider("mock")
const call = { requestId: "t" }
const ask = (text: string, extra: Parameters<typeof Stub.chatRequest>[0] = {}) =>
  Stub.chatRequest({ messages: [{ role: "user", parts: [{ type: "text", text }] }], ...extra })

describe("the built-in mock provider", () => {
  it.effect("echoes the last user message and reports usage", () =>
    Effect.gen(function* () {
      const r = yield* mock.chat(ask("hello world"), call)
      expect(r.parts).toEqual([{ type: "text", text: "echo: hello world" }])
      expect(r.finishReason).toBe("stop")
      expect(r.usage.inputTokens).toBeGreaterThan(0)
      expect(r.usage.outputTokens).toBeGreaterThan(0)
    }),
  )

  it.effect("streams the same answer in several chunks, start first and finish last", () =>
    Effect.gen(function* () {
      const events = Array.from(yield* Stream.runCollect(mock.chatStream(ask("one two three four five six"), call)))
      expect(events[0]?._tag).toBe("start")
      expect(events.at(-1)).toMatchObject({ _tag: "finish", finishReason: "stop" })
      const deltas = events.filter((e) => e._tag === "text_delta")
      expect(deltas.length).toBeGreaterThan(2)
      expect(deltas.map((e) => (e._tag === "text_delta" ? e.text : "")).join("")).toBe(
        "echo: one two three four five six",
      )
    }),
  )

  it.effect("calls an offered tool the prompt names, with arguments its schema requires", () =>
    Effect.gen(function* () {
      const tools = [
        {
          name: "get_weather",
          parameters: {
            type: "object",
            properties: { city: { type: "string" }, days: { type: "integer" } },
            required: ["city", "days"],
          },
        },
      ]
      const r = yield* mock.chat(ask("please use get_weather", { tools }), call)
      expect(r.finishReason).toBe("tool_calls")
      expect(r.parts[0]).toMatchObject({ type: "tool_call", name: "get_weather" })
      expect(JSON.parse((r.parts[0] as { arguments: string }).arguments)).toEqual({ city: "mock", days: 1 })
      const none = yield* mock.chat(ask("please use get_weather", { tools, toolChoice: { mode: "none" } }), call)
      expect(none.parts[0]?.type).toBe("text")
    }),
  )

  it.effect("answers a tool result", () =>
    Effect.gen(function* () {
      const r = yield* mock.chat(
        Stub.chatRequest({
          messages: [
            { role: "user", parts: [{ type: "text", text: "weather?" }] },
            { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "get_weather", arguments: "{}" }] },
            {
              role: "tool",
              parts: [
                { type: "tool_result", id: "c1", name: "get_weather", content: [{ type: "text", text: "sunny" }] },
              ],
            },
          ],
        }),
        call,
      )
      expect(r.parts).toEqual([{ type: "text", text: "tool result: get_weather=sunny" }])
    }),
  )

  it.effect("fails on command with the status asked for", () =>
    Effect.gen(function* () {
      const e = yield* Effect.flip(mock.chat(ask("fail:503 please"), call))
      expect(e).toMatchObject({ _tag: "UpstreamError", status: 503 })
      const s = yield* Effect.flip(Stream.runCollect(mock.chatStream(ask("fail:429"), call)))
      expect(s).toMatchObject({ _tag: "UpstreamError", status: 429, retryAfterSeconds: 1 })
    }),
  )

  it.effect("thinks first, with a signature, when reasoning is asked for", () =>
    Effect.gen(function* () {
      const r = yield* mock.chat(ask("why", { reasoning: { includeThoughts: true } }), call)
      expect(r.parts[0]).toMatchObject({ type: "reasoning", text: "Thinking about: why" })
      expect((r.parts[0] as { signature?: string }).signature).toMatch(/^mock-sig-/)
      expect(r.usage.reasoningTokens).toBeGreaterThan(0)
    }),
  )

  it.effect("embeds deterministically", () =>
    Effect.gen(function* () {
      const a = yield* mock.embed({ model: "mock", inputs: ["x", "y"], dimensions: 4 }, call)
      const b = yield* mock.embed({ model: "mock", inputs: ["x"], dimensions: 4 }, call)
      expect(a.embeddings).toHaveLength(2)
      expect(a.embeddings[0]).toEqual(b.embeddings[0])
      expect(a.embeddings[0]).not.toEqual(a.embeddings[1])
    }),
  )
})
