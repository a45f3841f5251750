import { describe, expect, it } from "vitest"
import * as Parts from "../src/Parts.ts"

describe("functionResponse.response as another format's tool result", () => {
  it.each([
    [{ output: "line 1\nline 2" }, "line 1\nline 2"],
    [{ result: "sunny" }, "sunny"],
    [{ content: "ok", name: "read_file" }, "ok"],
    [{ output: { rows: 2 } }, '{"rows":2}'],
  ])("%j → plain text", (response, text) => {
    expect(Parts.resultContent(response)).toEqual({ text, isError: false })
  })

  it.each([
    [{ error: "no such file" }, "no such file"],
    [{ error: { code: 404 }, name: "read_file" }, '{"code":404}'],
  ])("%j → an error result", (response, text) => {
    expect(Parts.resultContent(response)).toEqual({ text, isError: true })
  })

  it.each([[{ result: "a", extra: 1 }], [{ temperature: 21, unit: "C" }], [{}]])("%j → JSON", (response) => {
    expect(Parts.resultContent(response)).toEqual({ text: JSON.stringify(response), isError: false })
  })

  it("a tool result from another format becomes {output} or {error}", () => {
    const base = {
      type: "tool_result" as const,
      id: "c1",
      name: "f",
      content: [{ type: "text" as const, text: "a\nb" }],
    }
    expect(Parts.responseOf(base)).toEqual({ output: "a\nb" })
    expect(Parts.responseOf({ ...base, isError: true })).toEqual({ error: "a\nb" })
  })
})
