/**
 * Fuzzing every ingress over real HTTP with fast-check: malformed JSON, wrong types anywhere in an
 * otherwise valid body, huge strings, deep nesting, invalid UTF-8 and wrong content types. Every
 * answer must be either a success or a well-formed error in that ingress's own wire shape, never
 * a 5xx from the gateway itself and never a stack trace; the process keeps serving throughout.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

interface Endpoint {
  readonly name: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly valid: Record<string, Json>
  /** Top-level and nested paths whose value the wrong-type fuzzer replaces. */
  readonly paths: ReadonlyArray<ReadonlyArray<string | number>>
}

interface Format {
  readonly name: "openai" | "gemini" | "anthropic"
  /** True when `body` is this format's error shape for `status`. */
  readonly isError: (body: unknown, status: number) => boolean
  readonly endpoints: ReadonlyArray<Endpoint>
}

const isObj = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const formats: ReadonlyArray<Format> = [
  {
    name: "openai",
    // OpenAI: {"error":{"message","type","param","code"}}
    isError: (b) =>
      isObj(b) && isObj(b.error) && typeof b.error.message === "string" && typeof b.error.type === "string",
    endpoints: [
      {
        name: "chat completions",
        path: "/v1/chat/completions",
        headers: { authorization: "Bearer sk-client" },
        valid: { model: "mock", messages: [{ role: "user", content: "hi" }], max_tokens: 16 },
        paths: [
          ["model"],
          ["messages"],
          ["messages", 0],
          ["messages", 0, "role"],
          ["messages", 0, "content"],
          ["max_tokens"],
          ["stream"],
          ["tools"],
          ["temperature"],
          ["response_format"],
          ["n"],
        ],
      },
      {
        name: "chat completions (stream)",
        path: "/v1/chat/completions",
        headers: { authorization: "Bearer sk-client" },
        valid: { model: "mock", stream: true, messages: [{ role: "user", content: "hi" }] },
        paths: [["messages", 0, "content"], ["stream_options"], ["tool_choice"], ["stop"]],
      },
      {
        name: "responses",
        path: "/v1/responses",
        headers: { authorization: "Bearer sk-client" },
        valid: { model: "mock", input: "hi" },
        paths: [["model"], ["input"], ["instructions"], ["tools"], ["stream"], ["max_output_tokens"]],
      },
      {
        name: "embeddings",
        path: "/v1/embeddings",
        headers: { authorization: "Bearer sk-client" },
        valid: { model: "mock", input: "hi" },
        paths: [["model"], ["input"], ["encoding_format"], ["dimensions"]],
      },
    ],
  },
  {
    name: "gemini",
    // Gemini: {"error":{"code","message","status"}} with code = the HTTP status
    isError: (b, status) =>
      isObj(b) &&
      isObj(b.error) &&
      b.error.code === status &&
      typeof b.error.message === "string" &&
      typeof b.error.status === "string",
    endpoints: [
      {
        name: "generateContent",
        path: "/v1beta/models/mock:generateContent",
        headers: { "x-goog-api-key": "client-key" },
        valid: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
        paths: [
          ["contents"],
          ["contents", 0],
          ["contents", 0, "parts"],
          ["contents", 0, "parts", 0, "text"],
          ["contents", 0, "role"],
          ["generationConfig"],
          ["tools"],
          ["systemInstruction"],
          ["safetySettings"],
        ],
      },
      {
        name: "streamGenerateContent",
        path: "/v1beta/models/mock:streamGenerateContent?alt=sse",
        headers: { "x-goog-api-key": "client-key" },
        valid: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
        paths: [["contents", 0, "parts", 0], ["generationConfig"], ["toolConfig"]],
      },
      {
        name: "countTokens",
        path: "/v1beta/models/mock:countTokens",
        headers: { "x-goog-api-key": "client-key" },
        valid: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
        paths: [["contents"], ["generateContentRequest"]],
      },
      {
        name: "embedContent",
        path: "/v1beta/models/mock:embedContent",
        headers: { "x-goog-api-key": "client-key" },
        valid: { content: { parts: [{ text: "hi" }] } },
        paths: [["content"], ["content", "parts"], ["taskType"], ["outputDimensionality"]],
      },
    ],
  },
  {
    name: "anthropic",
    // Anthropic: {"type":"error","error":{"type","message"}}
    isError: (b) =>
      isObj(b) &&
      b.type === "error" &&
      isObj(b.error) &&
      typeof b.error.type === "string" &&
      typeof b.error.message === "string",
    endpoints: [
      {
        name: "messages",
        path: "/v1/messages",
        headers: { "x-api-key": "client-key", "anthropic-version": "2023-06-01" },
        valid: { model: "mock", max_tokens: 16, messages: [{ role: "user", content: "hi" }] },
        paths: [
          ["model"],
          ["max_tokens"],
          ["messages"],
          ["messages", 0, "content"],
          ["messages", 0, "role"],
          ["system"],
          ["tools"],
          ["thinking"],
          ["stream"],
          ["tool_choice"],
        ],
      },
      {
        name: "count_tokens",
        path: "/v1/messages/count_tokens",
        headers: { "x-api-key": "client-key", "anthropic-version": "2023-06-01" },
        valid: { model: "mock", messages: [{ role: "user", content: "hi" }] },
        paths: [["messages"], ["system"], ["tools"]],
      },
    ],
  },
]

/** A copy of `value` with the value at `path` replaced (missing containers are created). */
const setAt = (value: Json, path: ReadonlyArray<string | number>, replacement: Json): Json => {
  if (path.length === 0) return replacement
  const [head, ...rest] = path
  if (typeof head === "number") {
    const arr = Array.isArray(value) ? [...value] : []
    arr[head] = setAt(arr[head] ?? null, rest, replacement)
    return arr
  }
  const obj: Record<string, Json> = isObj(value) ? { ...(value as Record<string, Json>) } : {}
  obj[head!] = setAt(obj[head!] ?? null, rest, replacement)
  return obj
}

const nested = (depth: number, open: string, close: string, inner = "1") =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`

interface Case {
  readonly body: Uint8Array | string
  readonly contentType?: string
}

/** Counterexamples can be megabytes: report them abbreviated. */
const abbreviated = (c: Case): Case => {
  const text = typeof c.body === "string" ? c.body : Buffer.from(c.body).toString("latin1")
  const summary = `${c.contentType ?? "application/json"} ${text.length} bytes: ${text.length > 240 ? `${text.slice(0, 160)}…${text.slice(-60)}` : text}`
  return Object.assign(c, { [fc.toStringMethod]: () => summary })
}

const utf8 = (s: string) => new TextEncoder().encode(s)

/** Bodies that are not JSON: random text, truncated JSON, JSON-ish junk. */
const malformed = (e: Endpoint): fc.Arbitrary<Case> =>
  fc
    .oneof(
      fc.string({ maxLength: 200 }).filter((s) => {
        try {
          JSON.parse(s)
          return false
        } catch {
          return true
        }
      }),
      fc.nat({ max: 200 }).map((n) => {
        const full = JSON.stringify(e.valid)
        return full.slice(0, Math.min(n, full.length - 1))
      }),
      fc.constantFrom("", "{", "}", "[", "nul", "{'model': 'x'}", '{"model":}', '{"a":1,}', "\u0000", "{}{}", "NaN"),
    )
    .map((body) => ({ body }))

/** Valid JSON, wrong shape: a field replaced by any JSON value, or a non-object body. */
const wrongTypes = (e: Endpoint): fc.Arbitrary<Case> =>
  fc.oneof(
    fc
      .tuple(fc.constantFrom(...e.paths), fc.jsonValue({ maxDepth: 3 }))
      .map(([path, v]) => ({ body: JSON.stringify(setAt(e.valid, path, v as Json)) })),
    fc.jsonValue({ maxDepth: 2 }).map((v) => ({ body: JSON.stringify(v) })),
  )

/** Big strings in a field: some under the 1 MB body limit, some over it. */
const huge = (e: Endpoint): fc.Arbitrary<Case> =>
  fc
    .tuple(
      fc.constantFrom(...e.paths),
      fc.integer({ min: 50_000, max: 1_500_000 }),
      fc.constantFrom("a", "é", "😀", "\\"),
    )
    .map(([path, n, ch]) => ({ body: JSON.stringify(setAt(e.valid, path, ch.repeat(Math.ceil(n / ch.length)))) }))

/** Deeply nested arrays/objects, as the whole body or inside a field. */
const deep = (e: Endpoint): fc.Arbitrary<Case> =>
  fc
    .tuple(fc.constantFrom(...e.paths), fc.integer({ min: 100, max: 50_000 }), fc.boolean(), fc.boolean())
    .map(([path, depth, arrays, whole]) => {
      const text = arrays ? nested(depth, "[", "]") : nested(depth, '{"a":', "}")
      if (whole) return { body: text }
      const marker = "__DEEP__"
      return { body: JSON.stringify(setAt(e.valid, path, marker)).replace(`"${marker}"`, text) }
    })

/** Byte sequences that are never UTF-8: stray continuation, overlong, surrogate, 5-byte, truncated. */
const invalidSequences: ReadonlyArray<ReadonlyArray<number>> = [
  [0xff],
  [0xfe, 0xff],
  [0x80],
  [0xc3, 0x28],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
]

/** Invalid UTF-8 inside a string of an otherwise valid body, between random ASCII. */
const badUtf8 = (e: Endpoint): fc.Arbitrary<Case> =>
  fc
    .tuple(
      fc.constantFrom(...e.paths),
      fc.constantFrom(...invalidSequences),
      fc.string({ unit: "grapheme-ascii", maxLength: 8 }),
    )
    .map(([path, bad, ascii]) => {
      const marker = "__BYTES__"
      const [before, after] = JSON.stringify(setAt(e.valid, path, marker)).split(marker) as [string, string]
      const clean = ascii.replace(/["\\\u0000-\u001f]/g, "")
      return { body: new Uint8Array([...utf8(before + clean), ...bad, ...utf8(clean + after)]) }
    })

/** A valid body sent with a content type that is not JSON. */
const wrongContentType = (e: Endpoint): fc.Arbitrary<Case> =>
  fc
    .constantFrom(
      "text/html",
      "application/xml",
      "multipart/form-data; boundary=x",
      "application/x-www-form-urlencoded",
      "image/png",
      "application/octet-stream",
    )
    .map((contentType) => ({ body: JSON.stringify(e.valid), contentType }))

let gw: RunningGateway
beforeAll(async () => {
  gw = await startGateway({
    server: { bodyLimit: "1mb" },
    providers: { mock: { type: "mock" } },
    models: { mock: { provider: "mock", model: "mock" } },
  })
})
afterAll(() => gw?.close())

const stackTrace = /\n\s+at .+:\d+:\d+/

const send = async (format: Format, e: Endpoint, c: Case) => {
  const res = await fetch(`${gw.url}${e.path}`, {
    method: "POST",
    headers: { ...e.headers, "content-type": c.contentType ?? "application/json" },
    body: typeof c.body === "string" ? c.body : Buffer.from(c.body),
    signal: AbortSignal.timeout(20_000),
  })
  const text = await res.text()
  expect(res.status, `${format.name} ${e.name}: ${text.slice(0, 300)}`).toBeLessThan(500)
  expect(text).not.toMatch(stackTrace)
  if (res.status >= 400) {
    let body: unknown
    expect(
      () => {
        body = JSON.parse(text)
      },
      `${format.name} ${e.name} ${res.status}: not JSON: ${text.slice(0, 200)}`,
    ).not.toThrow()
    expect(format.isError(body, res.status), `${format.name} ${e.name} ${res.status}: ${text.slice(0, 300)}`).toBe(true)
  }
  return res.status
}

const alive = async () => {
  const res = await fetch(`${gw.url}/healthz`)
  expect(res.status).toBe(200)
}

const categories: ReadonlyArray<readonly [string, (e: Endpoint) => fc.Arbitrary<Case>, number, boolean]> = [
  // name, generator, runs per endpoint, must every answer be an error?
  ["malformed JSON", malformed, 25, true],
  ["wrong types", wrongTypes, 40, false],
  ["huge strings", huge, 6, false],
  ["deep nesting", deep, 8, false],
  ["invalid UTF-8", badUtf8, 15, true],
  ["wrong content types", wrongContentType, 6, true],
]

describe.each(formats)("fuzzing the $name ingress", (format) => {
  it.each(categories)(
    "%s: well-formed errors in the client's format, no 5xx, still serving",
    async (_name, gen, runs, alwaysError) => {
      for (const e of format.endpoints) {
        await fc.assert(
          fc.asyncProperty(gen(e).map(abbreviated), async (c) => {
            const status = await send(format, e, c)
            if (alwaysError) expect(status).toBeGreaterThanOrEqual(400)
          }),
          { numRuns: runs, seed: 42 + runs, endOnFailure: true },
        )
        await alive()
      }
    },
  )
})

describe("nesting limit", () => {
  const at = (depth: number) =>
    JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }], metadata: { x: "__D__" } }).replace(
      '"__D__"',
      nested(depth - 2, "[", "]"),
    )
  it("a body nested deeper than 128 levels is a 400 naming the limit; 128 levels is not refused for depth", async () => {
    const post = (body: string) =>
      fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body })
    const deep = await post(at(129))
    expect(deep.status).toBe(400)
    expect(((await deep.json()) as { error: { message: string } }).error.message).toMatch(/deeper than 128 levels/)
    const ok = await post(at(128))
    const text = await ok.text()
    expect(text).not.toMatch(/deeper than/)
    expect(ok.status).toBeLessThan(500)
  })
})
