import { Errors, type GatewayError } from "@sluice/schema"
import { describe, expect, it } from "vitest"
import * as ErrorCodec from "../src/ErrorCodec.ts"
import * as Response from "../src/Response.ts"
import type * as Wire from "../src/Wire.ts"

describe("Response.decode / encode", () => {
  const wire: Wire.Message = {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-x",
    content: [
      { type: "thinking", thinking: "t", signature: "sig" },
      { type: "redacted_thinking", data: "r" },
      { type: "text", text: "hello" },
      { type: "tool_use", id: "toolu_1", name: "f", input: { a: [1] } },
      { type: "web_search_tool_result" },
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 30, cache_creation_input_tokens: 5 },
  }

  it("decodes blocks, stop reason and usage (input includes cache reads and writes)", () => {
    const r = Response.decode(wire)
    expect(r.parts).toEqual([
      { type: "reasoning", text: "t", signature: "sig" },
      { type: "reasoning", text: "", redacted: "r" },
      { type: "text", text: "hello" },
      { type: "tool_call", id: "toolu_1", name: "f", arguments: '{"a":[1]}' },
    ])
    expect(r.finishReason).toBe("tool_calls")
    expect(r.usage).toEqual({ inputTokens: 45, outputTokens: 20, cachedInputTokens: 30, cacheCreationInputTokens: 5 })
  })

  it("encodes back to the same message (server blocks aside)", () => {
    const back = Response.encode(Response.decode(wire))
    expect(back).toEqual({
      ...wire,
      content: wire.content.slice(0, 4),
      usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 30, cache_creation_input_tokens: 5 },
    })
  })

  it("gives another provider's id an msg_ prefix and unsigned reasoning an empty signature", () => {
    const out = Response.encode({
      id: "chatcmpl-1",
      model: "gpt",
      parts: [
        { type: "reasoning", text: "why" },
        { type: "text", text: "" },
        { type: "text", text: "x", signature: "g" },
      ],
      finishReason: "content_filter",
      usage: { inputTokens: 100, outputTokens: 7, cachedInputTokens: 60 },
      created: 0,
    })
    expect(out.id).toBe("msg_chatcmpl-1")
    expect(out.content).toEqual([
      { type: "thinking", thinking: "why", signature: "" },
      { type: "text", text: "x" },
    ])
    expect(out.stop_reason).toBe("refusal")
    expect(out.usage).toEqual({
      input_tokens: 40,
      output_tokens: 7,
      cache_read_input_tokens: 60,
      cache_creation_input_tokens: 0,
    })
  })

  const reasons: Array<[string | null, string, string]> = [
    ["end_turn", "stop", "end_turn"],
    ["max_tokens", "length", "max_tokens"],
    ["stop_sequence", "stop_sequence", "stop_sequence"],
    ["tool_use", "tool_calls", "tool_use"],
    ["refusal", "refusal", "refusal"],
    ["pause_turn", "stop", "pause_turn"],
    ["model_context_window_exceeded", "length", "model_context_window_exceeded"],
  ]
  for (const [wireReason, canonical, back] of reasons) {
    it(`stop_reason ${wireReason} ⇄ ${canonical}`, () => {
      const r = Response.decode({ ...wire, content: [], stop_reason: wireReason })
      expect(r.finishReason).toBe(canonical)
      expect(Response.encode(r).stop_reason).toBe(back)
    })
  }

  it("keeps the matched stop sequence", () => {
    const r = Response.decode({ ...wire, stop_reason: "stop_sequence", stop_sequence: "END" })
    expect(r.stopSequence).toBe("END")
    expect(Response.encode(r).stop_sequence).toBe("END")
  })
})

describe("ErrorCodec", () => {
  const table: Array<[GatewayError, number, string]> = [
    [new Errors.InvalidRequest({ message: "m" }), 400, "invalid_request_error"],
    [new Errors.Unauthenticated({ message: "m" }), 401, "authentication_error"],
    [new Errors.PermissionDenied({ message: "m" }), 403, "permission_error"],
    [new Errors.NotFound({ message: "m" }), 404, "not_found_error"],
    [new Errors.PayloadTooLarge({ message: "m" }), 413, "request_too_large"],
    [new Errors.RateLimited({ message: "m", retryAfterSeconds: 2.2 }), 429, "rate_limit_error"],
    [new Errors.UpstreamError({ message: "m", status: 529 }), 529, "overloaded_error"],
    [new Errors.UpstreamError({ message: "m", status: 502 }), 502, "api_error"],
    [new Errors.UpstreamError({ message: "m", status: 402 }), 402, "billing_error"],
    [new Errors.Timeout({ message: "m" }), 504, "timeout_error"],
    [new Errors.GuardrailViolation({ message: "m", policy: "p" }), 400, "invalid_request_error"],
    [new Errors.Unavailable({ message: "m" }), 503, "overloaded_error"],
    [new Errors.Internal({ message: "m" }), 500, "api_error"],
  ]
  for (const [error, status, type] of table) {
    it(`${error._tag}${"status" in error ? ` ${error.status}` : ""} → ${status} ${type}`, () => {
      const r = ErrorCodec.render(error)
      expect(r.status).toBe(status)
      expect(r.body).toEqual({ type: "error", error: { type, message: "m" } })
    })
  }

  it("sends retry-after in whole seconds", () => {
    expect(ErrorCodec.render(new Errors.RateLimited({ message: "m", retryAfterSeconds: 2.2 })).headers).toEqual({
      "retry-after": "3",
    })
  })

  it("reads upstream errors, keeping status and retry-after", () => {
    const e = ErrorCodec.fromUpstream(
      429,
      { type: "error", error: { type: "rate_limit_error", message: "slow" } },
      "c",
      "4",
    )
    expect(e).toMatchObject({ _tag: "UpstreamError", status: 429, retryAfterSeconds: 4 })
    expect(e.message).toContain("slow")
    expect(ErrorCodec.fromUpstream(500, "<html>", "c").message).toContain("HTTP 500")
    expect(
      ErrorCodec.fromStreamError({ type: "error", error: { type: "overloaded_error", message: "o" } }, "c"),
    ).toMatchObject({ status: 529 })
  })
})
