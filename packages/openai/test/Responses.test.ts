import { Chunk, Effect, Either, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import * as ResponsesCodec from "../src/ResponsesCodec.ts"
import * as ResponsesStream from "../src/ResponsesStream.ts"

const ok = (body: unknown) => {
  const r = ResponsesCodec.decode(body)
  if (Either.isLeft(r)) throw new Error(`expected success, got ${r.left.message}`)
  return r.right
}

describe("ResponsesCodec.decode", () => {
  it("turns a string input and instructions into system + user turns", () => {
    const { chat } = ok({ model: "m", input: "hi", instructions: "be nice", max_output_tokens: 50 })
    expect(chat.messages).toEqual([
      { role: "system", parts: [{ type: "text", text: "be nice" }] },
      { role: "user", parts: [{ type: "text", text: "hi" }] },
    ])
    expect(chat.maxTokens).toBe(50)
  })

  it("groups message, reasoning and function_call items into turns; outputs answer their calls", () => {
    const { chat } = ok({
      model: "m",
      input: [
        { role: "developer", content: "dev" },
        {
          role: "user",
          content: [
            { type: "input_text", text: "q" },
            { type: "input_image", image_url: "https://x/i.png", detail: "auto" },
          ],
        },
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "plan" }], encrypted_content: "sig" },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "calling", annotations: [] }] },
        { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
        { type: "function_call", call_id: "c2", name: "g", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "one" },
        { type: "function_call_output", call_id: "c2", output: [{ type: "input_text", text: "two" }] },
      ],
    })
    expect(chat.messages).toEqual([
      { role: "system", parts: [{ type: "text", text: "dev" }] },
      {
        role: "user",
        parts: [
          { type: "text", text: "q" },
          { type: "image", source: { kind: "url", url: "https://x/i.png" } },
        ],
      },
      {
        role: "assistant",
        parts: [
          { type: "reasoning", text: "plan", signature: "sig" },
          { type: "text", text: "calling" },
          { type: "tool_call", id: "c1", name: "f", arguments: "{}" },
          { type: "tool_call", id: "c2", name: "g", arguments: "{}" },
        ],
      },
      {
        role: "tool",
        parts: [
          { type: "tool_result", id: "c1", name: "f", content: [{ type: "text", text: "one" }] },
          { type: "tool_result", id: "c2", name: "g", content: [{ type: "text", text: "two" }] },
        ],
      },
    ])
  })

  it("maps tools, tool_choice, text.format and reasoning", () => {
    const { chat } = ok({
      model: "m",
      input: "x",
      tools: [{ type: "function", name: "f", parameters: { type: "object" }, strict: true }],
      tool_choice: { type: "function", name: "f" },
      text: { format: { type: "json_schema", name: "o", schema: { type: "object" }, strict: true } },
      reasoning: { effort: "medium", summary: "auto" },
      safety_identifier: "user-1",
    })
    expect(chat).toMatchObject({
      tools: [{ name: "f", parameters: { type: "object" }, strict: true }],
      toolChoice: { mode: "required", allowed: ["f"] },
      responseFormat: { type: "json_schema", name: "o", schema: { type: "object" }, strict: true },
      reasoning: { effort: "medium", includeThoughts: true },
      user: "user-1",
    })
  })

  it.each([
    ["unknown item type", { model: "m", input: [{ type: "web_search_call", id: "x" }] }, "input[0].type"],
    ["hosted tool", { model: "m", input: "x", tools: [{ type: "file_search" }] }, "tools[0].type"],
    ["previous_response_id", { model: "m", input: "x", previous_response_id: "resp_1" }, "previous_response_id"],
    ["item_reference without a store", { model: "m", input: [{ type: "item_reference", id: "fc_1" }] }, "input[0]"],
    [
      "a bare item reference without a store",
      { model: "m", input: [{ role: "user", content: "x" }, { id: "rs_1" }] },
      "input[1]",
    ],
    [
      "orphan function_call_output",
      { model: "m", input: [{ type: "function_call_output", call_id: "zz", output: "x" }] },
      "input[0].call_id",
    ],
    [
      "bad content part",
      { model: "m", input: [{ role: "user", content: [{ type: "input_text" }] }] },
      "input[0].content[0].text",
    ],
    ["missing input", { model: "m" }, "input"],
  ])("400 naming the field: %s", (_, body, param) => {
    const r = ResponsesCodec.decode(body)
    if (Either.isRight(r)) throw new Error("expected a failure")
    expect(r.left.param).toBe(param)
  })
})

const frames = async (events: Stream.Stream<StreamEvent, GatewayError>) => {
  const { request } = ok({ model: "m", input: "x" })
  const out = await Effect.runPromise(Stream.runCollect(ResponsesStream.encode(events, request, 1)))
  return Chunk.toArray(out).map((f) => {
    const [eventLine, dataLine] = f.trimEnd().split("\n")
    const data = JSON.parse(dataLine!.slice("data: ".length)) as Record<string, unknown> & { type: string }
    expect(eventLine).toBe(`event: ${data.type}`)
    return data
  })
}

describe("ResponsesStream.encode", () => {
  it("emits the item lifecycle for reasoning, text and two interleaved calls, numbered in order", async () => {
    const events = await frames(
      Stream.make<Array<StreamEvent>>(
        { _tag: "start", id: "x", model: "up-model" },
        { _tag: "reasoning_delta", text: "hm", signature: "s1" },
        { _tag: "text_delta", text: "a" },
        { _tag: "tool_call_start", index: 0, id: "c0", name: "f" },
        { _tag: "tool_call_start", index: 1, id: "c1", name: "g" },
        { _tag: "tool_call_delta", index: 1, arguments: "{}" },
        { _tag: "tool_call_delta", index: 0, arguments: '{"a":1}' },
        { _tag: "tool_call_end", index: 0 },
        { _tag: "tool_call_end", index: 1 },
        { _tag: "finish", finishReason: "tool_calls", usage: { inputTokens: 1, outputTokens: 2 } },
      ),
    )
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ])
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
    const done = events.filter((e) => e.type === "response.function_call_arguments.done")
    expect(done.map((e) => [e.output_index, e.name, e.arguments])).toEqual([
      [2, "f", '{"a":1}'],
      [3, "g", "{}"],
    ])
    const completed = events.at(-1)!.response as {
      model: string
      output: Array<{ type: string; encrypted_content?: string }>
    }
    expect(completed.model).toBe("up-model")
    expect(completed.output.map((o) => o.type)).toEqual(["reasoning", "message", "function_call", "function_call"])
    expect(completed.output[0]!.encrypted_content).toBe("s1")
  })

  it("ends a length stop as response.incomplete with its reason", async () => {
    const events = await frames(
      Stream.make<Array<StreamEvent>>(
        { _tag: "start", id: "x", model: "m" },
        { _tag: "text_delta", text: "cut" },
        { _tag: "finish", finishReason: "length", usage: { inputTokens: 1, outputTokens: 2 } },
      ),
    )
    expect(events.at(-1)).toMatchObject({
      type: "response.incomplete",
      response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } },
    })
  })

  it("a mid-stream failure is an error event then response.failed", async () => {
    const events = await frames(
      Stream.concat(
        Stream.make<Array<StreamEvent>>({ _tag: "start", id: "x", model: "m" }, { _tag: "text_delta", text: "so" }),
        Stream.fail(new Errors.UpstreamError({ message: "gone", status: 502 })),
      ),
    )
    expect(events.slice(-2)).toMatchObject([
      { type: "error", message: "gone" },
      { type: "response.failed", response: { status: "failed", error: { message: "gone" } } },
    ])
  })

  it("a guardrail stop mid-stream is response.incomplete (content_filter) without the blocked text", async () => {
    const events = await frames(
      Stream.concat(
        Stream.make<Array<StreamEvent>>({ _tag: "start", id: "x", model: "m" }, { _tag: "text_delta", text: "fine" }),
        Stream.fail(new Errors.GuardrailViolation({ message: "blocked secret", policy: "p" })),
      ),
    )
    expect(events.at(-1)).toMatchObject({
      type: "response.incomplete",
      response: { incomplete_details: { reason: "content_filter" } },
    })
    expect(JSON.stringify(events)).not.toContain("blocked secret")
  })
})
