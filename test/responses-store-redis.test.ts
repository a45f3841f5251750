/**
 * The Redis response store shared by two gateway instances: a tool loop's first turn on one,
 * its continuation (`previous_response_id`, `item_reference`) on the other; retrieval and
 * deletion across instances; the time to live set on what is kept.
 */
import { randomUUID } from "node:crypto"
import { Redis } from "ioredis"
import OpenAI from "openai"
import type { ResponseFunctionToolCall } from "openai/resources/responses/responses"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AnthropicUpstream, GeminiUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const KEY = "sk-sluice-fleet-key-0001"
const OTHER = "sk-sluice-fleet-key-0002"
const prefix = `sluice-test-${randomUUID().slice(0, 8)}:`
const TTL_MS = 3_600_000

let one: RunningGateway
let two: RunningGateway
let gemini: GeminiUpstream.GeminiMock
let anthropic: AnthropicUpstream.AnthropicMock
let redis: Redis

const config = () => ({
  providers: {
    gm: { type: "gemini", baseUrl: gemini.url, apiKey: "gemini-upstream-key" },
    an: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-upstream" },
  },
  models: {
    "to-gemini": { provider: "gm", model: "gemini-2.5-flash" },
    "to-anthropic": { provider: "an", model: "claude-sonnet-4-5" },
  },
  keys: [
    { name: "fleet", key: KEY },
    { name: "other", key: OTHER },
  ],
  redis: { url: "redis://127.0.0.1:6379", prefix },
  responses: { store: "redis", ttl: "1h" },
})

beforeAll(async () => {
  redis = new Redis("redis://127.0.0.1:6379")
  gemini = await GeminiUpstream.start({ apiKey: "gemini-upstream-key" })
  anthropic = await AnthropicUpstream.start({ apiKey: "sk-ant-upstream" })
  one = await startGateway(config())
  two = await startGateway(config())
})

afterAll(async () => {
  await Promise.all([one?.close(), two?.close()])
  await Promise.all([gemini?.close(), anthropic?.close()])
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

const client = (gw: RunningGateway, key = KEY) => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 })

const tools = [
  {
    type: "function" as const,
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    strict: false,
  },
]

const calls = (r: { output: ReadonlyArray<{ type: string }> }) =>
  r.output.filter((o): o is ResponseFunctionToolCall => o.type === "function_call")

describe.each([false, true])("Redis store shared by two instances (streamed: %s)", (stream) => {
  it("a Gemini tool loop started on one instance continues on the other with previous_response_id", async () => {
    gemini.script({
      calls: [
        { name: "get_weather", args: { city: "Rome" } },
        { name: "get_weather", args: { city: "Milan" } },
      ],
    })
    const params = { model: "to-gemini", input: `Weather in Rome and Milan (${stream})`, tools }
    const first = stream
      ? await client(one).responses.stream(params).finalResponse()
      : await client(one).responses.create(params)
    expect(calls(first)).toHaveLength(2)

    gemini.script({ text: "Rome sunny, Milan foggy." })
    const next = {
      model: "to-gemini",
      previous_response_id: first.id,
      tools,
      input: calls(first).map((c, i) => ({
        type: "function_call_output" as const,
        call_id: c.call_id,
        output: i === 0 ? "sunny" : "foggy",
      })),
    }
    const second = stream
      ? await client(two).responses.stream(next).finalResponse()
      : await client(two).responses.create(next)
    expect(second.output_text).toBe("Rome sunny, Milan foggy.")

    const body = gemini.generateBodies().at(-1) as {
      contents: Array<{ role: string; parts: Array<Record<string, any>> }>
    }
    expect(body.contents.map((c) => c.role)).toEqual(["user", "model", "user"])
    expect(body.contents[0]!.parts).toEqual([{ text: `Weather in Rome and Milan (${stream})` }])
    expect(body.contents[1]!.parts.map((p) => p.functionCall?.args)).toEqual([{ city: "Rome" }, { city: "Milan" }])
    // The first call carries the thought signature Gemini issued, restored on the other instance.
    expect(gemini.signatures.has(body.contents[1]!.parts[0]!.thoughtSignature)).toBe(true)
    expect(JSON.stringify(body.contents[2]!.parts.map((p) => p.functionResponse?.response))).toMatch(/sunny.*foggy/)

    // Both instances read the same stored responses; the second knows its predecessor.
    expect((await client(one).responses.retrieve(second.id)).previous_response_id).toBe(first.id)
    // (the SDK's stream helper adds parsed_arguments to what it hands out)
    const kept = calls(await client(two).responses.retrieve(first.id))
    expect(kept.map(({ id, call_id, arguments: a }) => [id, call_id, a])).toEqual(
      calls(first).map(({ id, call_id, arguments: a }) => [id, call_id, a]),
    )
  })
})

describe("across instances", () => {
  it("item_reference on one instance finds an item kept by the other", async () => {
    anthropic.next({ content: [AnthropicUpstream.toolUse("get_weather", { city: "Nice" })] })
    const first = await client(one).responses.create({ model: "to-anthropic", input: "Weather in Nice?", tools })
    const call = calls(first)[0]!
    anthropic.next({ content: [AnthropicUpstream.text("Nice: mild.")] })
    const second = await client(two).responses.create({
      model: "to-anthropic",
      tools,
      input: [
        { role: "user", content: "Weather in Nice?" },
        { type: "item_reference", id: call.id! },
        { type: "function_call_output", call_id: call.call_id, output: "mild, 17 C" },
      ],
    })
    expect(second.output_text).toBe("Nice: mild.")
    const sent = anthropic.messages().at(-1) as { messages: Array<{ role: string; content: Array<any> }> }
    expect(sent.messages.map((m) => m.role)).toEqual(["user", "assistant", "user"])
    expect(sent.messages[1]!.content).toEqual([
      { type: "tool_use", id: call.call_id, name: "get_weather", input: { city: "Nice" } },
    ])
  })

  it("a response deleted on one instance is gone on the other; another key never sees it", async () => {
    const r = await client(one).responses.create({ model: "to-gemini", input: "short note" })
    expect(
      await client(two, OTHER)
        .responses.retrieve(r.id)
        .catch((x) => x),
    ).toBeInstanceOf(OpenAI.NotFoundError)
    expect((await client(two).responses.retrieve(r.id)).id).toBe(r.id)
    await client(two).responses.delete(r.id)
    expect(
      await client(one)
        .responses.retrieve(r.id)
        .catch((x) => x),
    ).toBeInstanceOf(OpenAI.NotFoundError)
  })

  it("keeps each response and item with the configured time to live, under the configured prefix", async () => {
    const r = await client(one).responses.create({ model: "to-gemini", input: "how long do you keep this?" })
    const keys = await redis.keys(`${prefix}responses:*`)
    const mine = keys.filter((k) => k.endsWith(`:r:${r.id}`))
    expect(mine).toHaveLength(1)
    const ttl = await redis.pttl(mine[0]!)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(TTL_MS)
    // The scope is a hash of the key, never the key itself.
    expect(keys.some((k) => k.includes(KEY))).toBe(false)
    const items = keys.filter((k) => k.includes(":i:"))
    expect(items.length).toBeGreaterThan(0)
    for (const k of items) expect(await redis.pttl(k)).toBeGreaterThan(0)
  })
})
