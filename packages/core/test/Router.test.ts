import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { Config, Router, Wildcard } from "@sluice/core"

const config = Either.getOrThrow(
  Config.fromObject(
    {
      providers: { openai: { type: "mock" }, anthropic: { type: "mock" }, local: { type: "mock" } },
      models: {
        "gpt-4o": { provider: "openai", model: "gpt-4o-2024-08-06" },
        "claude-sonnet": { provider: "anthropic", model: "claude-sonnet-4-5" },
        balanced: {
          deployments: [
            { provider: "openai", model: "gpt-4o", weight: 3 },
            { provider: "local", model: "llama3", weight: 1 },
          ],
        },
      },
      routes: [
        {
          match: "gemini-*",
          to: "claude-sonnet",
          fallbacks: ["gpt-4o", "openai/gpt-4o-mini"],
          retry: { attempts: 3, backoff: "200ms" },
        },
        { match: "*-mini", to: "local/llama3" },
        { match: "h*d", to: "gpt-4o" },
        { match: "gemini-2.5-pro", to: "gpt-4o" },
      ],
    },
    {},
  ),
)

const router = Router.make(config)
const summary = (model: string) =>
  Either.match(router.resolve(model), {
    onLeft: (e) => ({ error: e._tag, message: e.message }),
    onRight: (r) => ({
      rule: r.rule?.match,
      candidates: r.candidates.map(
        (c) => `${c.id} -> ${c.deployments.map((d) => `${d.provider}/${d.model}`).join(",")}`,
      ),
    }),
  })

describe("Router.resolve", () => {
  it.each([
    // a routes: rule wins, with its fallbacks in order
    [
      "gemini-2.5-pro",
      {
        rule: "gemini-*",
        candidates: [
          "claude-sonnet -> anthropic/claude-sonnet-4-5",
          "gpt-4o -> openai/gpt-4o-2024-08-06",
          "openai/gpt-4o-mini -> openai/gpt-4o-mini",
        ],
      },
    ],
    // suffix and middle wildcards
    ["gpt-4o-mini", { rule: "*-mini", candidates: ["local/llama3 -> local/llama3"] }],
    ["hello-world", { rule: "h*d", candidates: ["gpt-4o -> openai/gpt-4o-2024-08-06"] }],
    // then a models: alias
    ["gpt-4o", { rule: undefined, candidates: ["gpt-4o -> openai/gpt-4o-2024-08-06"] }],
    ["balanced", { rule: undefined, candidates: ["balanced -> openai/gpt-4o,local/llama3"] }],
    // then provider/model directly, for a configured provider
    ["anthropic/claude-haiku", { rule: undefined, candidates: ["anthropic/claude-haiku -> anthropic/claude-haiku"] }],
    ["openai/org/model", { rule: undefined, candidates: ["openai/org/model -> openai/org/model"] }],
  ])("%s", (model, expected) => {
    expect(summary(model)).toEqual(expected)
  })

  it.each(["unknown-model", "nope/gpt-4o", "openai/", "/gpt-4o"])("%s is NOT_FOUND naming the model", (model) => {
    expect(summary(model)).toEqual({ error: "NotFound", message: `model "${model}" is not routed by this gateway` })
  })

  it("keeps the first matching rule even when a later one is exact", () => {
    expect(summary("gemini-2.5-pro")).toMatchObject({ rule: "gemini-*" })
  })

  it("lists models: entries", () => {
    expect(router.models.map((m) => m.id)).toEqual(["gpt-4o", "claude-sonnet", "balanced"])
  })
})

describe("Wildcard", () => {
  it.each([
    ["gpt-4*", "gpt-4o", true],
    ["gpt-4*", "gpt-3.5", false],
    ["*-mini", "o4-mini", true],
    ["h*d", "hd", true],
    ["h*d", "head", true],
    ["h*d", "heads", false],
    ["a.b", "axb", false],
    ["*", "", true],
  ])("%s ~ %s = %s", (pattern, s, expected) => {
    expect(Wildcard.matches(pattern, s)).toBe(expected)
  })
})
