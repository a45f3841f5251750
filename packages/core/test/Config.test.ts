import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted, Schema } from "effect"
import { Config } from "@sluice/core"

const issues = (text: string, env: Record<string, string> = {}) => {
  const result = Config.parse(text, env)
  if (Either.isRight(result)) throw new Error("expected the config to be rejected")
  return result.left.issues
}

describe("Config", () => {
  it("parses the documented example with defaults filled in", () => {
    const result = Config.parse(
      `
server: { host: 127.0.0.1, port: 8787, bodyLimit: 10mb }
providers:
  openai:    { type: openai, apiKey: "\${OPENAI_API_KEY}" }
  local:     { type: ollama, baseUrl: "http://127.0.0.1:11434/v1" }
  upstream:  { type: gemini, baseUrl: "http://127.0.0.1:9000", apiKey: "x" }
  fake:      { type: mock }
models:
  gpt-4o:    { provider: openai, model: gpt-4o }
`,
      { OPENAI_API_KEY: "sk-secret" },
    )
    const config = Either.getOrThrow(result)
    expect(config.server.bodyLimit).toBe(10 * 1024 * 1024)
    expect(config.server.shutdownTimeout).toBe(10_000)
    expect(Redacted.value(config.providers.openai!.apiKey!)).toBe("sk-secret")
    // A Redacted key never prints.
    expect(JSON.stringify(config.providers.openai)).not.toContain("sk-secret")
    expect(String(config.providers.openai!.apiKey)).not.toContain("sk-secret")
    expect(config.models["gpt-4o"]).toMatchObject({ provider: "openai", model: "gpt-4o" })
  })

  it("names the path of a bad value", () => {
    expect(issues(`providers:\n  openai: { type: openai, baseUrl: "not a url" }\n`)).toEqual([
      { path: "providers.openai.baseUrl", message: "expected a URL" },
    ])
    expect(issues(`server: { port: 99999 }`)[0]!.path).toBe("server.port")
    expect(issues(`server: { bodyLimit: lots }`)[0]).toMatchObject({ path: "server.bodyLimit" })
    expect(issues(`providers:\n  x: { type: mock, colour: blue }`)[0]!.path).toBe("providers.x.colour")
  })

  it("knows core's sections plus the ones it is told about (plugins'), validated by their schemas", () => {
    const sections = new Map([["cache", [Schema.Struct({ ttl: Config.Duration })]]])
    const parse = (text: string) => Config.parse(text, {}, { sections })
    const bogus = parse(`bogus: 1`)
    expect(Either.isLeft(bogus) && bogus.left.issues[0]).toMatchObject({
      path: "bogus",
      message: expect.stringContaining("unknown section"),
    })
    expect(Either.isRight(parse(`cache: { ttl: 5s }`))).toBe(true)
    const bad = parse(`cache: { ttl: soon }`)
    expect(Either.isLeft(bad) && bad.left.issues[0]!.path).toBe("cache.ttl")
    // Without a list (a library caller decoding only core's part) other sections are kept raw.
    expect(Either.getOrThrow(Config.parse(`bogus: 1`, {})).bogus).toBe(1)
  })

  it("names models and routes that point at unknown providers", () => {
    const found = issues(`
providers: { p: { type: mock } }
models:
  a: { provider: q, model: m }
routes:
  - { match: "x-*", to: nowhere }
`)
    expect(found).toEqual(
      expect.arrayContaining([
        { path: "models.a.provider", message: 'unknown provider "q"' },
        expect.objectContaining({ path: "routes[0].to" }),
      ]),
    )
    expect(issues(`providers: { p: { type: mock } }\nmodels:\n  b: { provider: p }\n`)[0]!.path).toBe("models.b")
  })

  it("rejects bad YAML with its position", () => {
    const [issue] = issues("providers: [\n")
    expect(issue!.message).toMatch(/^invalid YAML at line \d+, column \d+/)
  })

  it("interpolates ${ENV} and ${ENV:-default}, and names a missing variable", () => {
    const ok = Either.getOrThrow(
      Config.parse(
        `providers:\n  u: { type: gemini, baseUrl: "http://\${HOST:-127.0.0.1}:\${PORT}", apiKey: "$\${literal}" }`,
        {
          PORT: "9000",
        },
      ),
    )
    expect(ok.providers.u!.baseUrl).toBe("http://127.0.0.1:9000")
    expect(Redacted.value(ok.providers.u!.apiKey!)).toBe("${literal}")
    expect(issues(`providers:\n  o: { type: openai, apiKey: "\${MISSING_KEY}" }`)).toEqual([
      { path: "providers.o.apiKey", message: "environment variable MISSING_KEY is not set" },
    ])
  })

  it("defaults to the mock model plus providers whose key is in the environment", () => {
    const bare = Config.defaults({})
    expect(Object.keys(bare.providers)).toEqual(["mock"])
    expect(bare.models.mock).toMatchObject({ provider: "mock", model: "mock" })
    const withKeys = Config.defaults({ OPENAI_API_KEY: "a", GEMINI_API_KEY: "b" })
    expect(Object.keys(withKeys.providers).sort()).toEqual(["gemini", "mock", "openai"])
  })

  it("parses durations and sizes", () => {
    expect(Config.parseDuration("250ms")).toBe(250)
    expect(Config.parseDuration("2s")).toBe(2000)
    expect(Config.parseDuration("5m")).toBe(300_000)
    expect(Config.parseDuration("soon")).toBeUndefined()
    expect(Config.parseSize("512kb")).toBe(512 * 1024)
    expect(Config.parseSize("1.5mb")).toBe(1.5 * 1024 * 1024)
  })
})
