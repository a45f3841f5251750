/**
 * Property: whatever model id a caller names — any unicode, `/`, `..`, `%`, very long — through
 * any of the three ingress formats, the answer is either a 4xx in that client's own error format
 * with nothing sent upstream, or upstream requests for exactly the configured upstream model
 * (Gemini: `/v1beta/{models|tunedModels}/{the id as ONE encoded segment}:generateContent`;
 * OpenAI and Anthropic: their fixed path with that model in the body) — never another path.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, chat, clientError, credentials, type Format, type Setup, start } from "./support/security-input.ts"

let setup: Setup
beforeAll(async () => {
  setup = await start()
}, 120_000)
afterAll(() => setup?.close())

/** Where a routed id must land: the provider, its path and the model it names upstream. */
const expected = (id: string): { upstream: string; path: string; model: string } | undefined => {
  if (id === "flash") return { upstream: "gemini", path: "/v1beta/models/gemini-2.5-flash:generateContent", model: "" }
  const m = /^(gup|oup|aup)\/(.+)$/s.exec(id)
  if (m === null) return undefined
  const model = m[2]!
  switch (m[1]) {
    case "gup": {
      const name = /^(models|tunedModels)\//.test(model) ? model : `models/${model}`
      const slash = name.indexOf("/")
      return {
        upstream: "gemini",
        path: `/v1beta/${name.slice(0, slash)}/${encodeURIComponent(name.slice(slash + 1))}:generateContent`,
        model: "",
      }
    }
    case "oup":
      return { upstream: "openai", path: "/v1/chat/completions", model }
    default:
      return { upstream: "anthropic", path: "/v1/messages", model }
  }
}

const tokens = [
  "/",
  "..",
  ".",
  "%",
  "%2F",
  "%2e%2e",
  "?",
  "#",
  "\\",
  "\r\n",
  "\n",
  ":",
  "@",
  "+",
  "~",
  "*",
  " ",
  "é",
  "模型",
  "😀",
  "\u0000",
  "\u2028",
  "models/",
  "tunedModels/",
  "gemini-2.5-flash",
  "gpt-4o-mini",
  "admin",
]
const tail = fc.oneof(
  // Ids that keep the rule, so the routed side of the property is exercised too.
  fc.constantFrom("", "gemini-2.5-flash", "gpt-4o-mini", "claude-haiku-4-5", "a:b@c+d~e", "x/y.z"),
  fc.stringMatching(/^[a-z0-9][a-z0-9._:-]{0,30}$/),
  fc
    .array(
      fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 6 }), fc.string({ unit: "binary", maxLength: 3 })),
      {
        maxLength: 10,
      },
    )
    .map((parts) => parts.join("")),
  fc.string({ minLength: 200, maxLength: 400, unit: fc.constantFrom("a", "b", "/", ".", "-") }),
)
const modelIds = fc
  .tuple(fc.constantFrom("gup/", "oup/", "aup/", "flash", "", "unknown/", "gup/models/", "gup/tunedModels/"), tail)
  .map(([head, rest]) => head + rest)

/** The Gemini path for `id`, either fully encoded or with its `/` kept literal (segment by segment). */
const geminiPath = (id: string, literalSlashes: boolean) =>
  `/v1beta/models/${literalSlashes ? id.split("/").map(encodeURIComponent).join("/") : encodeURIComponent(id)}:generateContent`

type Attempt = { format: Format; send: () => ReturnType<typeof call>; seen: string }

const attempts = (id: string): Array<Attempt> => [
  { format: "openai", send: () => chat(setup, "openai", id), seen: id },
  { format: "anthropic", send: () => chat(setup, "anthropic", id), seen: id },
  // The Gemini ingress drops one `models/` prefix from the path's model.
  ...[false, true].map((literal) => ({
    format: "gemini" as const,
    send: () =>
      call(
        setup.sluice.url,
        "POST",
        geminiPath(id, literal),
        credentials("gemini", "sk-sec-input-open-0123456789abcdef"),
        '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}',
      ),
    seen: id.replace(/^models\//, ""),
  })),
]

describe("model ids through every ingress (property)", () => {
  it("a 4xx in the client's format, or the configured upstream model path — never another path", async () => {
    let routed = 0
    let refused = 0
    await fc.assert(
      fc.asyncProperty(modelIds, async (id) => {
        for (const a of attempts(id)) {
          const since = setup.mark()
          const answer = await a.send()
          const upstream = since()
          const where = `${a.format} ${JSON.stringify(id).slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 200)}`
          if (upstream.length === 0) {
            expect(answer.status, where).toBeGreaterThanOrEqual(400)
            expect(answer.status, where).toBeLessThan(500)
            expect(clientError(a.format, answer), where).toBeDefined()
            expect(answer.text.length, where).toBeLessThan(4_000)
            refused++
            continue
          }
          const target = expected(a.seen)
          expect(target, `${where}: an unrouted id reached an upstream`).toBeDefined()
          for (const u of upstream) {
            expect(u.upstream, where).toBe(target!.upstream)
            expect(u.request.method, where).toBe("POST")
            expect(u.request.url, where).toBe(target!.path)
            if (target!.model !== "") expect((u.request.body as { model?: unknown }).model, where).toBe(target!.model)
          }
          routed++
        }
      }),
      { numRuns: 60 },
    )
    // The generator reaches both outcomes, or the property says little.
    expect(routed).toBeGreaterThan(0)
    expect(refused).toBeGreaterThan(0)
  }, 120_000)
})
