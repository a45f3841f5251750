/**
 * The Responses API's stored state through the official openai SDK: multi-step tool loops that
 * continue with `previous_response_id` (and `item_reference`) to Gemini- and Anthropic-format
 * upstreams, streamed and not; what those upstreams receive is the whole conversation.
 * Retrieval and deletion, key scoping, `store: false` and the time to live.
 */
import OpenAI from "openai"
import type {
  Response,
  ResponseCreateParamsNonStreaming,
  ResponseFunctionToolCall,
} from "openai/resources/responses/responses"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AnthropicUpstream, GeminiUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const KEY_A = "sk-sluice-responses-a-0001"
const KEY_B = "sk-sluice-responses-b-0002"

let gw: RunningGateway
let gemini: GeminiUpstream.GeminiMock
let anthropic: AnthropicUpstream.AnthropicMock

beforeAll(async () => {
  gemini = await GeminiUpstream.start({ apiKey: "gemini-upstream-key" })
  anthropic = await AnthropicUpstream.start({ apiKey: "sk-ant-upstream" })
  gw = await startGateway({
    providers: {
      gm: { type: "gemini", baseUrl: gemini.url, apiKey: "gemini-upstream-key" },
      an: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-upstream" },
    },
    models: {
      "to-gemini": { provider: "gm", model: "gemini-2.5-flash" },
      "to-anthropic": { provider: "an", model: "claude-sonnet-4-5" },
    },
    keys: [
      { name: "team-a", key: KEY_A },
      { name: "team-b", key: KEY_B },
    ],
  })
})

afterAll(async () => {
  await gw?.close()
  await Promise.all([gemini?.close(), anthropic?.close()])
})

const client = (key = KEY_A) => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 })

const tools: ResponseCreateParamsNonStreaming["tools"] = [
  {
    type: "function",
    name: "get_weather",
    description: "Weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    strict: false,
  },
  {
    type: "function",
    name: "get_time",
    description: "Local time in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    strict: false,
  },
]

type Upstream = "to-gemini" | "to-anthropic"

/** Script the upstream's next answer: these calls, or a text. */
const next = (upstream: Upstream, answer: { calls: Array<[string, Record<string, unknown>]> } | { text: string }) => {
  if (upstream === "to-gemini") {
    gemini.script(
      "text" in answer ? { text: answer.text } : { calls: answer.calls.map(([name, args]) => ({ name, args })) },
    )
  } else {
    anthropic.next({
      content:
        "text" in answer
          ? [AnthropicUpstream.text(answer.text)]
          : answer.calls.map(([name, input]) => AnthropicUpstream.toolUse(name, input)),
    })
  }
}

/** One turn, streamed (the SDK's stream helper, final response from response.completed) or not. */
const turn = async (
  params: Omit<ResponseCreateParamsNonStreaming, "stream">,
  stream: boolean,
  c = client(),
): Promise<Response> => (stream ? await c.responses.stream(params).finalResponse() : await c.responses.create(params))

/** The echoed `store` flag (the SDK's Response type leaves it out). */
const storeOf = (r: object): unknown => (r as { store?: unknown }).store

const calls = (r: Response): Array<ResponseFunctionToolCall> =>
  r.output.filter((o): o is ResponseFunctionToolCall => o.type === "function_call")

/** What the upstream received last, as (role, summary of each part) pairs. */
const lastConversation = (upstream: Upstream): Array<[string, Array<string>]> => {
  if (upstream === "to-gemini") {
    const body = gemini.generateBodies().at(-1) as { contents: Array<{ role: string; parts: Array<any> }> }
    return body.contents.map((c) => [
      c.role,
      c.parts.map((p) =>
        p.functionCall
          ? `call ${p.functionCall.name} ${JSON.stringify(p.functionCall.args)}`
          : p.functionResponse
            ? `result ${p.functionResponse.name} ${JSON.stringify(p.functionResponse.response)}`
            : `text ${p.text}`,
      ),
    ])
  }
  const body = anthropic.messages().at(-1) as { messages: Array<{ role: string; content: string | Array<any> }> }
  return body.messages.map((m) => [
    m.role === "assistant" ? "model" : m.role,
    (typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content).map((b) =>
      b.type === "tool_use"
        ? `call ${b.name} ${JSON.stringify(b.input)}`
        : b.type === "tool_result"
          ? `result ${JSON.stringify(b.content)}`
          : `text ${b.text}`,
    ),
  ])
}

describe.each<[Upstream, boolean]>([
  ["to-gemini", false],
  ["to-gemini", true],
  ["to-anthropic", false],
  ["to-anthropic", true],
])("a tool loop continued by previous_response_id → %s (streamed: %s)", (upstream, stream) => {
  it("sends the upstream the whole conversation at every step, parallel calls included", async () => {
    const prompt = `Weather and time in Paris? (${upstream}, ${stream})`
    next(upstream, {
      calls: [
        ["get_weather", { city: "Paris" }],
        ["get_time", { city: "Paris" }],
      ],
    })
    const first = await turn({ model: upstream, input: prompt, tools }, stream)
    expect(storeOf(first)).toBe(true)
    expect(calls(first).map((c) => c.name)).toEqual(["get_weather", "get_time"])

    next(upstream, { calls: [["get_weather", { city: "Lyon" }]] })
    const second = await turn(
      {
        model: upstream,
        previous_response_id: first.id,
        tools,
        input: [
          { type: "function_call_output", call_id: calls(first)[0]!.call_id, output: "sunny, 21 C" },
          { type: "function_call_output", call_id: calls(first)[1]!.call_id, output: "14:05" },
        ],
      },
      stream,
    )
    expect(second.previous_response_id).toBe(first.id)
    expect(calls(second).map((c) => c.name)).toEqual(["get_weather"])

    next(upstream, { text: "Paris is sunny at 14:05; Lyon is rainy." })
    const third = await turn(
      {
        model: upstream,
        previous_response_id: second.id,
        tools,
        input: [{ type: "function_call_output", call_id: calls(second)[0]!.call_id, output: "rainy, 12 C" }],
      },
      stream,
    )
    expect(third.output_text).toBe("Paris is sunny at 14:05; Lyon is rainy.")

    const sent = lastConversation(upstream)
    expect(sent.map(([role]) => role)).toEqual(["user", "model", "user", "model", "user"])
    expect(sent[0]![1]).toEqual([`text ${prompt}`])
    expect(sent[1]![1]).toEqual(['call get_weather {"city":"Paris"}', 'call get_time {"city":"Paris"}'])
    expect(sent[2]![1]).toHaveLength(2)
    expect(sent[2]![1][0]).toContain("sunny, 21 C")
    expect(sent[2]![1][1]).toContain("14:05")
    expect(sent[3]![1]).toEqual(['call get_weather {"city":"Lyon"}'])
    expect(sent[4]![1]).toHaveLength(1)
    expect(sent[4]![1][0]).toContain("rainy, 12 C")
  })
})

describe("item_reference", () => {
  it("resolves a stored function_call item by id, without previous_response_id", async () => {
    next("to-anthropic", { calls: [["get_weather", { city: "Oslo" }]] })
    const first = await turn({ model: "to-anthropic", input: "Weather in Oslo?", tools }, false)
    const call = calls(first)[0]!
    next("to-anthropic", { text: "Oslo: snow." })
    const second = await client().responses.create({
      model: "to-anthropic",
      tools,
      input: [
        { role: "user", content: "Weather in Oslo?" },
        { type: "item_reference", id: call.id! },
        { type: "function_call_output", call_id: call.call_id, output: "snow, -3 C" },
      ],
    })
    expect(second.output_text).toBe("Oslo: snow.")
    const sent = lastConversation("to-anthropic")
    expect(sent.map(([role]) => role)).toEqual(["user", "model", "user"])
    expect(sent[1]![1]).toEqual(['call get_weather {"city":"Oslo"}'])
    expect(sent[2]![1][0]).toContain("snow, -3 C")
  })

  it("resolves a stored input message by the id input_items gives it", async () => {
    const first = await client().responses.create({ model: "to-gemini", input: "remember the word teal" })
    const page = await client().responses.inputItems.list(first.id)
    expect(page.data).toHaveLength(1)
    const item = page.data[0]!
    expect(item).toMatchObject({
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "remember the word teal" }],
    })
    await client().responses.create({ model: "to-gemini", input: [{ type: "item_reference", id: item.id }] })
    expect(lastConversation("to-gemini")).toEqual([["user", ["text remember the word teal"]]])
  })

  it("an unknown item is a 400 naming the item", async () => {
    const e = await client()
      .responses.create({ model: "to-gemini", input: [{ type: "item_reference", id: "fc_doesnotexist" }] })
      .catch((x) => x)
    expect(e).toBeInstanceOf(OpenAI.BadRequestError)
    expect(e.param).toBe("input[0].id")
    expect(e.message).toContain("fc_doesnotexist")
  })
})

describe("retrieve and delete", () => {
  it("GET returns the stored response; DELETE removes it; then 404 naming response_id", async () => {
    const created = await client().responses.create({ model: "to-gemini", input: "keep me" })
    const got = await client().responses.retrieve(created.id)
    expect(got.id).toBe(created.id)
    expect(got.output_text).toBe(created.output_text)
    expect(got.output).toEqual(created.output)

    const res = await fetch(`${gw.url}/v1/responses/${created.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${KEY_A}` },
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ id: created.id, object: "response", deleted: true })

    const gone = await client()
      .responses.retrieve(created.id)
      .catch((x) => x)
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError)
    expect(gone.param).toBe("response_id")
    const again = await client()
      .responses.delete(created.id)
      .catch((x) => x)
    expect(again).toBeInstanceOf(OpenAI.NotFoundError)

    const continued = await client()
      .responses.create({ model: "to-gemini", input: "more", previous_response_id: created.id })
      .catch((x) => x)
    expect(continued).toBeInstanceOf(OpenAI.BadRequestError)
    expect(continued.param).toBe("previous_response_id")
    expect(continued.code).toBe("previous_response_not_found")
  })

  it("an id outside the charset is refused before any lookup", async () => {
    const res = await fetch(`${gw.url}/v1/responses/${encodeURIComponent("resp_x:y*")}`, {
      headers: { authorization: `Bearer ${KEY_A}` },
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { param: string; message: string } }
    expect(body.error.param).toBe("response_id")
    expect(body.error.message).not.toContain("resp_x")
  })
})

describe("scoping and store: false", () => {
  it("another key gets 404 for GET and DELETE and cannot continue the conversation; a wrong key gets 401", async () => {
    const mine = await client(KEY_A).responses.create({ model: "to-gemini", input: "only for team a" })
    const other = client(KEY_B)
    expect(await other.responses.retrieve(mine.id).catch((x) => x)).toBeInstanceOf(OpenAI.NotFoundError)
    expect(await other.responses.delete(mine.id).catch((x) => x)).toBeInstanceOf(OpenAI.NotFoundError)
    const cont = await other.responses
      .create({ model: "to-gemini", input: "and?", previous_response_id: mine.id })
      .catch((x) => x)
    expect(cont).toBeInstanceOf(OpenAI.BadRequestError)
    expect(cont.code).toBe("previous_response_not_found")
    const bad = client("sk-not-a-key-at-all-0000")
    expect(await bad.responses.retrieve(mine.id).catch((x) => x)).toBeInstanceOf(OpenAI.AuthenticationError)
    const badCont = await bad.responses
      .create({ model: "to-gemini", input: "and?", previous_response_id: mine.id })
      .catch((x) => x)
    expect(badCont).toBeInstanceOf(OpenAI.AuthenticationError)
    // Still there for its owner.
    expect((await client(KEY_A).responses.retrieve(mine.id)).id).toBe(mine.id)
  })

  it("store: false is answered but not kept, streamed or not", async () => {
    const r = await client().responses.create({ model: "to-gemini", input: "forget me", store: false })
    expect(storeOf(r)).toBe(false)
    expect(
      await client()
        .responses.retrieve(r.id)
        .catch((x) => x),
    ).toBeInstanceOf(OpenAI.NotFoundError)
    const s = await client()
      .responses.stream({ model: "to-gemini", input: "forget me too", store: false })
      .finalResponse()
    expect(storeOf(s)).toBe(false)
    expect(
      await client()
        .responses.retrieve(s.id)
        .catch((x) => x),
    ).toBeInstanceOf(OpenAI.NotFoundError)
  })
})

describe("time to live", () => {
  let short: RunningGateway
  beforeAll(async () => {
    short = await startGateway({
      providers: { gm: { type: "gemini", baseUrl: gemini.url, apiKey: "gemini-upstream-key" } },
      models: { "to-gemini": { provider: "gm", model: "gemini-2.5-flash" } },
      responses: { store: "memory", ttl: "1s" },
    })
  })
  afterAll(() => short?.close())

  it("a response is gone once its ttl has passed", async () => {
    const c = new OpenAI({ apiKey: "anything", baseURL: `${short.url}/v1`, maxRetries: 0 })
    const r = await c.responses.create({ model: "to-gemini", input: "short-lived" })
    expect((await c.responses.retrieve(r.id)).id).toBe(r.id)
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    expect(await c.responses.retrieve(r.id).catch((x) => x)).toBeInstanceOf(OpenAI.NotFoundError)
  })
})
