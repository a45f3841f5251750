/**
 * Hostile input against a real `sluice start` with virtual keys, and upstreams that record every
 * request they receive: a model id that would climb out of its allow-list or its upstream path,
 * CR/LF and non-Latin-1 in a model id, out-of-range parameters, and huge values echoed back. Each
 * must be a 400 in the client's own format naming the field, with nothing sent upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type Answer,
  call,
  chat,
  chatBody,
  clientError,
  credentials,
  type Format,
  keys,
  type Setup,
  start,
} from "./support/security-input.ts"

let setup: Setup
beforeAll(async () => {
  setup = await start()
}, 120_000)
afterAll(() => setup?.close())

/** Run `send` and return its answer with what reached any upstream meanwhile. */
const observe = async (send: () => Promise<Answer>) => {
  const since = setup.mark()
  const answer = await send()
  return { answer, upstream: since() }
}

const expectRefused = (format: Format, r: { answer: Answer; upstream: Array<unknown> }, field: string) => {
  const e = clientError(format, r.answer)
  expect(e, `${format}: ${r.answer.status} ${r.answer.text.slice(0, 300)}`).toBeDefined()
  expect(r.answer.status).toBe(400)
  expect(e!.field).toBe(field)
  expect(r.upstream, "nothing may reach an upstream").toEqual([])
  expect(r.answer.headers["x-sluice-target"]).toBeUndefined()
}

const formats: ReadonlyArray<Format> = ["openai", "anthropic", "gemini"]

describe("a model id cannot escape its allow-list or its upstream path (#1)", () => {
  it("the narrow key still reaches the model it is allowed, at exactly that path", async () => {
    const r = await observe(() => chat(setup, "gemini", "gup/gemini-flash-latest", { key: keys.narrow }))
    expect(r.upstream.map((u) => `${u.upstream} ${u.request.method} ${u.request.url}`)).toEqual([
      "gemini POST /v1beta/models/gemini-flash-latest:generateContent",
    ])
  })

  const escapes = ["gup/gemini-flash/../gemini-pro", "gup/gemini-flash/../../../admin#", "gup/gemini-flash/./x"]
  for (const format of formats)
    for (const model of escapes)
      it(`${format}: ${JSON.stringify(model)} is a 400 naming model, nothing upstream`, async () => {
        expectRefused(format, await observe(() => chat(setup, format, model, { key: keys.narrow })), "model")
        expectRefused(format, await observe(() => chat(setup, format, model, { key: keys.open })), "model")
      })

  it("the Gemini path, percent-encoded or literal, and under the path prefix", async () => {
    const headers = credentials("gemini", keys.narrow)
    const body = chatBody("gemini", undefined)
    for (const path of [
      "/v1beta/models/gup%2Fgemini-flash%2F..%2Fgemini-pro:generateContent",
      "/v1beta/models/gup/gemini-flash/../gemini-pro:generateContent",
      "/v1beta/models/gup/gemini-flash/%2e%2e/gemini-pro:streamGenerateContent?alt=sse",
      "/v1beta/models/gup%2Fgemini-flash%2F..%2F..%2F..%2Fadmin%23:countTokens",
      "/v1beta/models/gup%2Fgemini-flash%2F..%2Fembedding:embedContent",
      "/gemini/v1beta/models/gup%2Fgemini-flash%2F..%2Fgemini-pro:generateContent",
      "/gemini/v1/models/gup/gemini-flash/../gemini-pro:generateContent",
    ])
      expectRefused("gemini", await observe(() => call(setup.sluice.url, "POST", path, headers, body)), "model")
  })

  it("OpenAI embeddings and Responses, Anthropic count_tokens, and the prefixed routes", async () => {
    const model = "gup/gemini-flash/../gemini-pro"
    const o = credentials("openai", keys.narrow)
    const a = credentials("anthropic", keys.narrow)
    const u = setup.sluice.url
    const cases: Array<[Format, () => Promise<Answer>]> = [
      ["openai", () => call(u, "POST", "/v1/embeddings", o, JSON.stringify({ model, input: "x" }))],
      ["openai", () => call(u, "POST", "/v1/responses", o, JSON.stringify({ model, input: "x" }))],
      ["openai", () => call(u, "POST", "/api/openai/v1/chat/completions", o, chatBody("openai", model))],
      ["openai", () => call(u, "POST", "/api/openai/chat/completions", o, chatBody("openai", model))],
      ["anthropic", () => call(u, "POST", "/v1/messages/count_tokens", a, chatBody("anthropic", model))],
      ["anthropic", () => call(u, "POST", "/api/anthropic/v1/messages", a, chatBody("anthropic", model))],
    ]
    for (const [format, send] of cases) expectRefused(format, await observe(send), "model")
  })
})

describe("CR/LF and non-Latin-1 in a model id (#5)", () => {
  const ids = [
    "gup/gemini-flash\r\nx-injected: 1",
    "oup/gpt-4o-mini\n",
    "aup/claude-haiku\r",
    "gup/gemini-flash-ö",
    "oup/gpt-4o-mini-模型",
    "aup/claude-haiku\u2028",
    "gup/gemini\u0000flash",
  ]
  for (const format of formats)
    it(`${format}: a 400 naming model before anything goes upstream; no header carries the id`, async () => {
      for (const model of ids) {
        const r = await observe(() => chat(setup, format, model))
        expectRefused(format, r, "model")
        expect(JSON.stringify(r.answer.headers)).not.toContain("x-injected")
      }
    })

  it("a valid id's x-sluice-target header is exactly the resolved target", async () => {
    const r = await observe(() => chat(setup, "openai", "oup/gpt-4o-mini"))
    expect(r.answer.status).toBe(200)
    expect(r.answer.headers["x-sluice-target"]).toBe("oup/gpt-4o-mini")
    expect(r.upstream.map((u) => u.request.url)).toEqual(["/v1/chat/completions"])
  })
})

describe("out-of-range parameters are a 400 naming the field (#10)", () => {
  const cases: Array<[Format, string, Record<string, unknown>, string]> = []
  for (const v of [-1, 0, 1.5, 1e308]) {
    cases.push(["openai", "oup/gpt-4o-mini", { max_tokens: v }, "max_tokens"])
    cases.push(["openai", "oup/gpt-4o-mini", { max_completion_tokens: v }, "max_completion_tokens"])
    cases.push(["anthropic", "aup/claude-haiku-4-5", { max_tokens: v }, "max_tokens"])
    cases.push(["gemini", "gup/gemini-2.5-flash", { generationConfig: { maxOutputTokens: v } }, ""])
  }
  cases.push(
    ["openai", "oup/gpt-4o-mini", { temperature: 99 }, "temperature"],
    ["openai", "oup/gpt-4o-mini", { temperature: -0.1 }, "temperature"],
    ["openai", "oup/gpt-4o-mini", { top_p: 1.5 }, "top_p"],
    ["anthropic", "aup/claude-haiku-4-5", { temperature: 1.5 }, "temperature"],
    ["anthropic", "aup/claude-haiku-4-5", { top_p: -1 }, "top_p"],
    ["anthropic", "aup/claude-haiku-4-5", { messages: [] }, "messages"],
    ["gemini", "gup/gemini-2.5-flash", { generationConfig: { temperature: 2.5 } }, ""],
    ["gemini", "gup/gemini-2.5-flash", { generationConfig: { topP: 2 } }, ""],
  )
  for (const [format, model, extra, field] of cases) {
    const name = field === "" ? Object.keys((extra.generationConfig as object) ?? {})[0]! : field
    it(`${format}: ${JSON.stringify(extra)} names ${name}`, async () => {
      const r = await observe(() => chat(setup, format, model, { extra }))
      // Gemini names the field in its fieldViolations, as generationConfig.<name>.
      expectRefused(format, r, field === "" ? `generationConfig.${name}` : field)
      expect(clientError(format, r.answer)!.message).toContain(name)
    })
  }

  it("the OpenAI Responses API: max_output_tokens and temperature", async () => {
    const o = credentials("openai", keys.open)
    for (const [extra, field] of [
      [{ max_output_tokens: -1 }, "max_output_tokens"],
      [{ max_output_tokens: 1e308 }, "max_output_tokens"],
      [{ temperature: 99 }, "temperature"],
    ] as const) {
      const body = JSON.stringify({ model: "oup/gpt-4o-mini", input: "hi", ...extra })
      expectRefused("openai", await observe(() => call(setup.sluice.url, "POST", "/v1/responses", o, body)), field)
    }
  })

  it("values in range still go through", async () => {
    const r = await observe(() =>
      chat(setup, "gemini", "gup/gemini-2.5-flash", {
        extra: { generationConfig: { maxOutputTokens: 64, temperature: 2, topP: 1 } },
      }),
    )
    expect(r.answer.status).toBe(200)
    expect(r.upstream).toHaveLength(1)
  })
})

describe("error messages cap what they echo (#11)", () => {
  const huge = "A".repeat(500_000)
  const cases: Array<[Format, Record<string, unknown>]> = [
    ["openai", { max_tokens: huge }],
    ["openai", { messages: [{ role: "tool", tool_call_id: huge, content: "x" }] }],
    ["anthropic", { max_tokens: huge }],
    ["gemini", { generationConfig: { maxOutputTokens: huge } }],
    ["gemini", { contents: [{ role: huge, parts: [{ text: "x" }] }] }],
  ]
  for (const [format, extra] of cases)
    it(`${format}: ${Object.keys(extra)[0]} of 500 KB comes back capped`, async () => {
      const model = { openai: "oup/gpt-4o-mini", anthropic: "aup/claude-haiku-4-5", gemini: "gup/gemini-2.5-flash" }
      const r = await observe(() => chat(setup, format, model[format], { extra }))
      expect(r.answer.status).toBe(400)
      expect(r.upstream).toEqual([])
      const e = clientError(format, r.answer)
      expect(e).toBeDefined()
      expect(e!.message).toContain("AAAA")
      expect(e!.message).toContain("…")
      expect(r.answer.text.length).toBeLessThan(2_000)
    })

  it("an unknown 10 KB path comes back capped in the 404", async () => {
    const r = await observe(() => call(setup.sluice.url, "GET", `/${"p".repeat(10_000)}`, {}))
    expect(r.answer.status).toBe(404)
    expect(r.answer.text).toContain("ppp")
    expect(r.answer.text.length).toBeLessThan(1_000)
  })

  it("a 500 KB model id is refused without being echoed at all", async () => {
    for (const format of formats) {
      // Gemini's id is in the URL, which Node caps at 16 KB of headers: long enough there is 8 KB.
      const r = await observe(() => chat(setup, format, `oup/${"m".repeat(format === "gemini" ? 8_000 : 500_000)}`))
      expectRefused(format, r, "model")
      expect(r.answer.text.length).toBeLessThan(2_000)
    }
  })
})
