/**
 * Detectors see normalised text (NFKC, no invisible characters, Latin for look-alikes) while
 * redaction masks the original: disguised PII is caught, and the rest of the text is untouched.
 */
import { describe, expect, it } from "@effect/vitest"
import { Config, type GatewayRequest } from "@sluice/core"
import type { ChatRequest } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Effect } from "effect"
import { Detectors, Middleware, Normalize, Policy, Scan } from "../src/index.ts"

const compiled = (config: Policy.GuardrailsConfigInput) => {
  const r = Policy.compile(Effect.runSync(Config.decodeSection(Policy.GuardrailsConfig, config, "guardrails")), {})
  if (r._tag === "Left") throw r.left
  return r.right
}

const redactEmail = compiled({ policies: { p: { action: "redact", pii: ["email", "secret"] } } }).global

const disguised: ReadonlyArray<[string, string]> = [
  ["zero-width space", "bob\u200B@exam\u200Dple.com"],
  ["word joiner and BOM", "bob\u2060@example\uFEFF.com"],
  ["soft hyphen", "bob@exam\u00ADple.com"],
  ["fullwidth", "ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ"],
  ["Cyrillic look-alikes", "bоb@eхаmple.cоm"],
  ["Greek look-alikes", "bοb@εxample.cοm"],
]

describe("normalisation before matching", () => {
  for (const [what, email] of disguised) {
    it(`an email disguised with ${what} is found and masked in the original text`, () => {
      expect(Detectors.detectors.email(email)).toEqual([])
      const r = Scan.text(redactEmail, "input", `write to ${email} today`)
      expect(r).toEqual({ _tag: "Redacted", text: "write to [REDACTED:email] today" })
    })
  }

  it("a secret split by zero-width characters is found", () => {
    const r = Scan.text(redactEmail, "input", "key sk-proj-\u200BZq8Xw7Vu6Ts5Rq4Po3Nm2Lk1 end")
    expect(r).toEqual({ _tag: "Redacted", text: "key [REDACTED:secret] end" })
  })

  it("text around a match keeps its own characters (accents, CJK, emoji)", () => {
    const r = Scan.text(redactEmail, "input", "Café 東京 🙂 ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ ﬁn")
    expect(r).toEqual({ _tag: "Redacted", text: "Café 東京 🙂 [REDACTED:email] ﬁn" })
  })

  it("keywords match their disguised forms too", () => {
    const words = compiled({ policies: { w: { deny: { keywords: ["falcon"] } } } }).global
    for (const t of ["Project FАLCОN", "project fal\u200Bcon", "ｆａｌｃｏｎ"])
      expect(Scan.text(words, "input", t)._tag).toBe("Blocked")
    expect(Scan.text(words, "input", "falconry")._tag).toBe("Clean")
  })

  it("plain text is left as it is (no copy, no map)", () => {
    const n = Normalize.normalize("plain ascii text, 123")
    expect(n.from).toBeUndefined()
    expect(Normalize.normalize("déjà vu").from).toBeUndefined()
  })
})

const EMAIL = "carol.secret@example.org"

/** A request that carries the email in every upstream-bound field besides the messages. */
const everywhere = (): GatewayRequest => {
  const chat: Partial<ChatRequest> = {
    messages: [
      { role: "user", name: `n ${EMAIL}`, parts: [{ type: "text", text: "hello" }] },
      {
        role: "assistant",
        parts: [{ type: "tool_call", id: `call_${EMAIL}`, name: "lookup", arguments: "{}" }],
      },
      {
        role: "tool",
        parts: [
          {
            type: "tool_result",
            id: `call_${EMAIL}`,
            name: "lookup",
            content: [{ type: "image", source: { kind: "url", url: `https://img.example.com/${EMAIL}.png` } }],
          },
        ],
      },
      { role: "user", parts: [{ type: "image", source: { kind: "url", url: `https://x.example.com/?to=${EMAIL}` } }] },
    ],
    tools: [
      {
        name: "lookup",
        description: `Looks people up; ask ${EMAIL}`,
        parameters: { type: "object", properties: { who: { type: "string", enum: ["me", EMAIL] } } },
      },
    ],
    toolChoice: { mode: "auto", allowed: ["lookup"] },
    stop: [EMAIL],
    user: EMAIL,
    metadata: { owner: EMAIL },
    responseFormat: { type: "json_schema", name: "r", schema: { type: "object", description: EMAIL } },
    extras: { openai: { prediction: { content: EMAIL } } },
  }
  return Stub.chat(chat)
}

describe("every upstream-bound field is inspected", () => {
  it.effect("redaction reaches every field and leaves valid structure", () =>
    Effect.gen(function* () {
      const section = yield* Config.decodeSection(
        Policy.GuardrailsConfig,
        { policies: { p: { action: "redact", pii: ["email"] } } },
        "guardrails",
      )
      const middleware = yield* Middleware.make({ config: section })
      const stub = Stub.stub()
      yield* middleware(stub.handler)(everywhere())
      const sent = stub.calls[0]!
      const json = JSON.stringify(sent)
      expect(json).not.toContain("carol.secret")
      expect(json.split("[REDACTED:email]").length - 1).toBeGreaterThanOrEqual(11)
      if (sent._tag !== "Chat") throw new Error("expected chat")
      // Ids stay paired: the call and its result are masked alike.
      const call = sent.chat.messages[1]!.parts[0]!
      const result = sent.chat.messages[2]!.parts[0]!
      expect(call.type === "tool_call" && result.type === "tool_result" && call.id === result.id).toBe(true)
      expect(sent.chat.tools![0]!.parameters).toEqual({
        type: "object",
        properties: { who: { type: "string", enum: ["me", "[REDACTED:email]"] } },
      })
    }),
  )

  it.effect("a blocking policy refuses the request for PII in any of those fields", () =>
    Effect.gen(function* () {
      const section = yield* Config.decodeSection(
        Policy.GuardrailsConfig,
        { policies: { p: { pii: ["email"] } } },
        "guardrails",
      )
      const middleware = yield* Middleware.make({ config: section })
      const stub = Stub.stub()
      const e = yield* Effect.flip(middleware(stub.handler)(Stub.chat({ user: EMAIL })))
      expect(e._tag).toBe("GuardrailViolation")
      const f = yield* Effect.flip(
        middleware(stub.handler)(Stub.chat({ stop: ["ｃａｒｏｌ＠ｅｘａｍｐｌｅ．ｏｒｇ"] })),
      )
      expect(f._tag).toBe("GuardrailViolation")
      expect(stub.calls).toHaveLength(0)
    }),
  )
})
