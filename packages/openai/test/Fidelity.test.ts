import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { CallId, type ChatResponse } from "@sluice/schema"
import * as RequestCodec from "../src/RequestCodec.ts"
import * as ResponseCodec from "../src/ResponseCodec.ts"
import * as ResponsesCodec from "../src/ResponsesCodec.ts"

const ok = (body: unknown) => {
  const r = RequestCodec.decode(body)
  if (Either.isLeft(r)) throw new Error(`expected success, got ${r.left.message}`)
  return r.right.chat
}
const fails = (body: unknown) => {
  const r = RequestCodec.decode(body)
  if (Either.isRight(r)) throw new Error("expected a failure")
  return r.left
}

const signature = "CiQB0e2Kb+/xYQ=="
const answer: ChatResponse = {
  id: "r1",
  model: "gemini-3-pro",
  parts: [
    { type: "tool_call", id: "gemini_fc_a_0", name: "read", arguments: '{"p":"a"}', signature },
    { type: "tool_call", id: "gemini_fc_a_1", name: "read", arguments: '{"p":"b"}' },
  ],
  finishReason: "tool_calls",
  usage: { inputTokens: 1, outputTokens: 1 },
  created: 1,
}

describe("Gemini thought signatures on OpenAI chat tool calls", () => {
  it("are shown in the id and in extra_content; only the signed call changes", () => {
    const calls = ResponseCodec.encode(answer).choices[0]!.message.tool_calls!
    expect(calls[0]!.id).toBe(CallId.wrap("gemini_fc_a_0", signature))
    expect(calls[0]!.extra_content).toEqual({ google: { thought_signature: signature } })
    expect(calls[1]).toEqual({
      id: "gemini_fc_a_1",
      type: "function",
      function: { name: "read", arguments: '{"p":"b"}' },
    })
  })

  it.each([
    ["the id alone (a client that rebuilds calls from id, name, arguments)", false],
    ["extra_content alone", true],
  ])("come back from %s", (_, viaExtra) => {
    const id = viaExtra ? "gemini_fc_a_0" : CallId.wrap("gemini_fc_a_0", signature)
    const chat = ok({
      model: "m",
      messages: [
        { role: "user", content: "go" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id,
              type: "function",
              function: { name: "read", arguments: '{"p":"a"}' },
              ...(viaExtra ? { extra_content: { google: { thought_signature: signature } } } : {}),
            },
            { id: "gemini_fc_a_1", type: "function", function: { name: "read", arguments: '{"p":"b"}' } },
          ],
        },
        { role: "tool", tool_call_id: id, content: "A" },
        { role: "tool", tool_call_id: "gemini_fc_a_1", content: "B" },
      ],
    })
    expect(chat.messages[1]!.parts).toEqual([
      { type: "tool_call", id: "gemini_fc_a_0", name: "read", arguments: '{"p":"a"}', signature },
      { type: "tool_call", id: "gemini_fc_a_1", name: "read", arguments: '{"p":"b"}' },
    ])
    expect(chat.messages[2]!.parts.map((p) => (p.type === "tool_result" ? p.id : ""))).toEqual([
      "gemini_fc_a_0",
      "gemini_fc_a_1",
    ])
  })

  it("come back from Responses function_call items", () => {
    const items = ResponsesCodec.outputItems(answer.parts)
    const callIds = items.flatMap((i) => (i.type === "function_call" ? [i.call_id] : []))
    expect(callIds[0]).toBe(CallId.wrap("gemini_fc_a_0", signature))
    const r = ResponsesCodec.decode({
      model: "m",
      input: [
        { role: "user", content: "go" },
        { type: "function_call", call_id: callIds[0], name: "read", arguments: '{"p":"a"}' },
        { type: "function_call", call_id: callIds[1], name: "read", arguments: '{"p":"b"}' },
        { type: "function_call_output", call_id: callIds[0], output: "A" },
        { type: "function_call_output", call_id: callIds[1], output: "B" },
      ],
    })
    if (Either.isLeft(r)) throw new Error(r.left.message)
    const parts = r.right.chat.messages.flatMap((m) => m.parts)
    expect(parts.filter((p) => p.type === "tool_call")[0]).toMatchObject({ id: "gemini_fc_a_0", signature })
    expect(parts.filter((p) => p.type === "tool_result").map((p) => p.id)).toEqual(["gemini_fc_a_0", "gemini_fc_a_1"])
  })
})

describe("Gemini options from OpenAI clients", () => {
  const base = { model: "m", messages: [{ role: "user", content: "x" }] }

  it("reads extra_body.google.thinking_config and keeps it from the pass-through extras", () => {
    const chat = ok({
      ...base,
      extra_body: { google: { thinking_config: { thinking_budget: 800, include_thoughts: true } } },
    })
    expect(chat.reasoning).toEqual({ budgetTokens: 800, includeThoughts: true })
    expect(chat.extras).toBeUndefined()
  })

  it("reads a top-level google object (the SDK's extra_body merged into the body)", () => {
    const chat = ok({ ...base, google: { thinking_config: { thinking_level: "LOW" } } })
    expect(chat.reasoning).toEqual({ effort: "low", includeThoughts: true })
    expect(chat.extras).toBeUndefined()
  })

  it("asks for the thoughts with reasoning_effort, and not with none", () => {
    expect(ok({ ...base, reasoning_effort: "medium" }).reasoning).toEqual({ effort: "medium", includeThoughts: true })
    expect(ok({ ...base, reasoning_effort: "none" }).reasoning).toEqual({ effort: "none" })
    expect(
      ok({ ...base, reasoning_effort: "high", google: { thinking_config: { include_thoughts: false } } }).reasoning,
    ).toEqual({ effort: "high", includeThoughts: false })
  })

  it("names the bad field", () => {
    expect(fails({ ...base, extra_body: { google: { thinking_config: { thinking_budget: -5 } } } }).param).toBe(
      "extra_body.google.thinking_config.thinking_budget",
    )
    expect(fails({ ...base, google: { thinking_config: { thinking_level: "huge" } } }).param).toBe(
      "google.thinking_config.thinking_level",
    )
    expect(fails({ ...base, google: { thinking_config: { thinking_level: "low", thinking_budget: 10 } } }).param).toBe(
      "google.thinking_config.thinking_level",
    )
  })
})
