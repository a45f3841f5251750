import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { Echo, ModelId } from "@sluice/core"

describe("ModelId", () => {
  it("accepts the ids real providers use", () => {
    for (const id of [
      "gpt-4o",
      "openai/gpt-4o-mini",
      "gemini-2.5-flash",
      "models/gemini-2.5-flash",
      "tunedModels/my-model-123",
      "claude-sonnet-4-5@20250929",
      "anthropic.claude-3-5-sonnet-20241022-v2:0",
      "ft:gpt-4o-mini:org:custom:abc123",
      "accounts/fireworks/models/llama-v3p1-8b-instruct",
      "meta-llama/Llama-3.3-70B-Instruct",
      "llama3:8b",
      "x".repeat(ModelId.maxLength),
    ])
      expect(ModelId.problem(id), id).toBeUndefined()
  })

  it("rejects what could climb out of a path, split a header or hide in a URL", () => {
    for (const id of [
      "",
      "x".repeat(ModelId.maxLength + 1),
      "gup/gemini-flash/../gemini-pro",
      "gup/gemini-flash/../../../admin#",
      "..",
      "./x",
      "a/./b",
      "/gpt-4o",
      "gpt-4o/",
      "a//b",
      "gpt-4o%2F..",
      "gpt-4o?alt=json",
      "gpt-4o#x",
      "a\\b",
      "gpt-4o\r\nx-injected: 1",
      "gpt-4o\n",
      "gpt\u0000",
      "gpt 4o",
      "gpt-4ö",
      "gpt-4o\u2028",
      "模型",
      'a"b',
      "gpt-*",
    ])
      expect(ModelId.problem(id), JSON.stringify(id)).toBeDefined()
  })

  it("check names the field and never echoes the value", () => {
    const bad = `gup/${"../".repeat(50)}admin`
    const result = ModelId.check(bad, "requests[0].model")
    expect(Either.isLeft(result)).toBe(true)
    const error = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
    expect(error._tag).toBe("InvalidRequest")
    expect(error.param).toBe("requests[0].model")
    expect(error.message).not.toContain("admin")
  })

  it("the schema keeps the same rule", () => {
    const decode = Schema.decodeUnknownEither(ModelId.ModelIdSchema)
    expect(Either.isRight(decode("openai/gpt-4o"))).toBe(true)
    expect(Either.isLeft(decode("a/../b"))).toBe(true)
    expect(Either.isLeft(decode(42))).toBe(true)
  })
})

describe("Echo", () => {
  it("caps a value with an ellipsis and escapes control characters", () => {
    expect(Echo.cap("short")).toBe("short")
    const capped = Echo.cap("a".repeat(500_000))
    expect(capped.length).toBe(Echo.maxEcho + 1)
    expect(capped.endsWith("…")).toBe(true)
    expect(Echo.cap("a\r\nb")).toBe("a\\u000d\\u000ab")
  })

  it("caps the value a schema decode message quotes back", () => {
    const message = `Expected number, actual "${"z".repeat(100_000)}"`
    const capped = Echo.capDecodeMessage(message)
    expect(capped.startsWith('Expected number, actual "zzz')).toBe(true)
    expect(capped.length).toBeLessThan(200)
    expect(Echo.capDecodeMessage("Expected number, actual 1")).toBe("Expected number, actual 1")
  })
})
