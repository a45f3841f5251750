import { Effect, Either, Redacted, Stream } from "effect"
import { Errors } from "@sluice/schema"
import { describe, expect, it } from "vitest"
import { Config, type ProviderService, Secrets } from "../src/index.ts"

const config = Either.getOrThrow(
  Config.fromObject(
    {
      providers: {
        a: { type: "openai", apiKey: "plain-provider-secret", headers: { "x-tag": "header-secret-value" } },
        b: { type: "openai", apiKey: "short" },
      },
      models: { m: { deployments: [{ provider: "a", model: "x", apiKey: "deployment-secret-1" }] } },
    },
    {},
  ),
)

describe("Secrets", () => {
  it("collects provider keys, header values and deployment keys (not values too short to be secrets)", () => {
    expect([...Secrets.ofConfig(config)].sort()).toEqual(
      ["deployment-secret-1", "header-secret-value", "plain-provider-secret"].sort(),
    )
  })

  it("scrubs each secret as is, URL-encoded and JSON-escaped, and key shapes nobody configured", () => {
    const s = Secrets.scrubber(["pass word/+1"])
    const e = s.error(
      new Errors.UpstreamError({
        message: 'bad: pass word/+1 pass%20word%2F%2B1 "pass word/+1" AIzaSyAAAAAAAAAAAAAAAAAAAAAAAA sk-abc*****wxyz',
        status: 400,
        provider: "p",
      }),
    )
    expect(e.message).not.toMatch(/pass|AIza|sk-/)
    expect(e).toBeInstanceOf(Errors.UpstreamError)
    expect(e.status).toBe(400)
    const same = new Errors.Timeout({ message: "nothing secret" })
    expect(s.error(same)).toBe(same)
  })

  it("guards every provider method, streams included, and the call's own key", async () => {
    const key = "client-own-key-123"
    const fail = () => new Errors.UpstreamError({ message: `echo ${key} plain-provider-secret`, status: 400 })
    const provider: ProviderService = {
      name: "p",
      type: "t",
      chat: () => Effect.fail(fail()),
      chatStream: () =>
        Stream.concat(Stream.make({ _tag: "start", id: "1", model: "m" } as never), Stream.fail(fail())),
      embed: () => Effect.fail(fail()),
      countTokens: () => Effect.fail(fail()),
      listModels: () => Effect.fail(fail()),
    }
    const guarded = Secrets.guard(provider, Secrets.scrubber(Secrets.ofConfig(config)))
    const ctx = { requestId: "r", apiKey: Redacted.make(key) }
    const messages = await Effect.runPromise(
      Effect.all([
        Effect.flip(guarded.chat({} as never, ctx)),
        Effect.flip(Stream.runDrain(guarded.chatStream({} as never, ctx))),
        Effect.flip(guarded.embed({} as never, ctx)),
        Effect.flip(guarded.countTokens({} as never, ctx)),
        Effect.flip(guarded.listModels(ctx)),
      ]),
    )
    for (const e of messages) expect(e.message).toBe("echo [redacted] [redacted]")
  })
})
