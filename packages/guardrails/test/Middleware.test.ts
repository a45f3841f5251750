import { describe, expect, it } from "@effect/vitest"
import { Config, type GatewayRequest, type GatewayResponse, KeyPolicy } from "@sluice/core"
import { Errors, type Message, type StreamEvent } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Cause, Chunk, Effect, Exit, Option, Stream } from "effect"
import { Custom, Middleware, Policy } from "../src/index.ts"

const decode = (config: Policy.GuardrailsConfigInput) =>
  Effect.orDie(Config.decodeSection(Policy.GuardrailsConfig, config, "guardrails"))

/** A guarded stub: the middleware built from `config` around a stub answering with `respond`. */
const guarded = (
  config: Policy.GuardrailsConfigInput,
  respond?: (r: GatewayRequest) => Effect.Effect<GatewayResponse, Errors.GuardrailViolation>,
  custom?: Custom.Registry,
) =>
  Effect.gen(function* () {
    const section = yield* decode(config)
    const middleware = yield* Effect.orDie(Middleware.make({ config: section, custom }))
    const stub = Stub.stub(respond)
    return { handler: middleware(stub.handler), stub }
  })

const say = (text: string, extra: Partial<Parameters<typeof Stub.chat>[0]> = {}) =>
  Stub.chat({ messages: [{ role: "user", parts: [{ type: "text", text }] }], ...extra })

const textSeen = (r: GatewayRequest) =>
  r._tag === "Chat"
    ? r.chat.messages.flatMap((m) => m.parts.map((p) => (p.type === "text" ? p.text : ""))).join("")
    : ""

const answer = (text: string): Effect.Effect<GatewayResponse, never> =>
  Effect.succeed({ _tag: "Chat", chat: Stub.chatResponse({ parts: [{ type: "text", text }] }), headers: {} })

const streamed = (events: ReadonlyArray<StreamEvent>): Effect.Effect<GatewayResponse, never> =>
  Effect.succeed({ _tag: "ChatStream", events: Stream.fromIterable(events), headers: {} })

const deltas = (...texts: Array<string>): Array<StreamEvent> => [
  { _tag: "start", id: "r", model: "m" },
  ...texts.map((text): StreamEvent => ({ _tag: "text_delta", text })),
  { _tag: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } },
]

const textOf = (events: ReadonlyArray<StreamEvent>) =>
  events.map((e) => (e._tag === "text_delta" ? e.text : "")).join("")

/** Run a stream to its end or error, keeping what was emitted before an error. */
const drain = (response: GatewayResponse) =>
  Effect.gen(function* () {
    if (response._tag !== "ChatStream") throw new Error("expected a stream")
    const seen: Array<StreamEvent> = []
    const exit = yield* Effect.exit(Stream.runForEach(response.events, (e) => Effect.sync(() => seen.push(e))))
    return { seen, exit }
  })

const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)

describe("guardrails: input policies", () => {
  it.effect("a deny keyword blocks before the model is called, naming the policy only", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({ policies: { words: { deny: { keywords: ["Project Falcon"] } } } })
      const e = yield* failure(handler(say("tell me about project falcon plans")))
      expect(e).toBeInstanceOf(Errors.GuardrailViolation)
      expect(e).toMatchObject({ policy: "words" })
      expect(e.message).toContain('"words"')
      expect(e.message.toLowerCase()).not.toContain("falcon")
      expect(stub.calls).toHaveLength(0)
      // A keyword inside another word is not a hit.
      yield* handler(say("falconry is an old sport"))
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("a deny regex with redact masks only the match", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({
        policies: { ids: { action: "redact", deny: { regex: ["EMP-\\d{5}"] } } },
      })
      yield* handler(say("employee emp-12345 asked; EMP-99999 too."))
      expect(textSeen(stub.calls[0]!)).toBe("employee [REDACTED:pattern] asked; [REDACTED:pattern] too.")
    }),
  )

  it.effect("PII redaction keeps the rest of the message intact", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({
        policies: { pii: { action: "redact", pii: ["email", "phone", "credit_card", "iban"] } },
      })
      const system: Message = { role: "system", parts: [{ type: "text", text: "Be brief." }] }
      yield* handler(
        Stub.chat({
          messages: [
            system,
            {
              role: "user",
              parts: [
                { type: "text", text: "I'm jo@example.com, +44 20 7946 0958; card 4111 1111 1111 1111, " },
                { type: "text", text: "IBAN GB82 WEST 1234 5698 7654 32. Thanks!" },
              ],
            },
          ],
        }),
      )
      const seen = stub.calls[0]!
      expect(seen._tag === "Chat" && seen.chat.messages[0]).toEqual(system)
      expect(textSeen(seen)).toBe(
        "Be brief.I'm [REDACTED:email], [REDACTED:phone]; card [REDACTED:credit_card], IBAN [REDACTED:iban]. Thanks!",
      )
    }),
  )

  it.effect("a card number failing the Luhn check is not PII", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({ policies: { cards: { pii: ["credit_card"] } } })
      yield* handler(say("order 4111 1111 1111 1112 shipped"))
      expect(stub.calls).toHaveLength(1)
      const e = yield* failure(handler(say("use 4111 1111 1111 1111")))
      expect(e).toMatchObject({ _tag: "GuardrailViolation", policy: "cards" })
      expect(e.message).toContain("credit card")
      expect(e.message).not.toContain("4111")
    }),
  )

  it.effect("a secret is blocked and never echoed", () =>
    Effect.gen(function* () {
      const { handler } = yield* guarded({ policies: { secrets: { pii: ["secret"] } } })
      const secret = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv"
      const e = yield* failure(handler(say(`debug this: ANTHROPIC_API_KEY=${secret}`)))
      expect(e).toMatchObject({ policy: "secrets" })
      expect(JSON.stringify(e)).not.toContain("AbCdEf")
    }),
  )

  it.effect("max input size and tokens", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({
        policies: { small: { maxInputChars: 20 }, few: { maxInputTokens: 3 } },
        global: ["small"],
        routes: [{ match: "tiny-*", policies: ["few"] }],
      })
      expect(yield* failure(handler(say("x".repeat(21))))).toMatchObject({ policy: "small" })
      yield* handler(say("x".repeat(20)))
      expect(yield* failure(handler(say("x".repeat(13), { model: "tiny-1" })))).toMatchObject({ policy: "few" })
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("tool-call arguments and tool results are inspected, and stay valid JSON", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({ policies: { pii: { action: "redact", pii: ["email"] } } })
      yield* handler(
        Stub.chat({
          messages: [
            { role: "user", parts: [{ type: "text", text: "email my boss" }] },
            {
              role: "assistant",
              parts: [{ type: "tool_call", id: "c1", name: "send", arguments: '{"to":"boss@corp.example","n":1}' }],
            },
            {
              role: "tool",
              parts: [
                {
                  type: "tool_result",
                  id: "c1",
                  name: "send",
                  content: [{ type: "text", text: "sent to boss@corp.example" }],
                  structured: { to: ["boss@corp.example"] },
                },
              ],
            },
          ],
        }),
      )
      const seen = stub.calls[0]!
      if (seen._tag !== "Chat") throw new Error("chat expected")
      const call = seen.chat.messages[1]!.parts[0]!
      expect(call.type === "tool_call" && JSON.parse(call.arguments)).toEqual({ to: "[REDACTED:email]", n: 1 })
      const result = seen.chat.messages[2]!.parts[0]!
      expect(result).toMatchObject({
        content: [{ type: "text", text: "sent to [REDACTED:email]" }],
        structured: { to: ["[REDACTED:email]"] },
      })
    }),
  )

  it.effect("tools: false leaves tool traffic alone", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({ policies: { pii: { pii: ["email"], tools: false } } })
      yield* handler(
        Stub.chat({
          messages: [
            { role: "assistant", parts: [{ type: "tool_call", id: "c", name: "f", arguments: '{"e":"a@b.io"}' }] },
          ],
        }),
      )
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("policies by route and by key", () =>
    Effect.gen(function* () {
      const { handler, stub } = yield* guarded({
        policies: { strict: { deny: { keywords: ["salary"] } } },
        global: [],
        routes: [{ match: "gpt-*", policies: ["strict"] }],
      })
      yield* handler(say("what is my salary", { model: "claude-3" }))
      expect(stub.calls).toHaveLength(1)
      expect(yield* failure(handler(say("what is my salary", { model: "gpt-4o" })))).toMatchObject({ policy: "strict" })
      const keyed = (policy: Record<string, unknown>) =>
        Stub.chat(
          { model: "claude-3", messages: [{ role: "user", parts: [{ type: "text", text: "salary?" }] }] },
          { principal: { id: "k", name: "intern", policy: KeyPolicy.unsafeValues(policy) } },
        )
      expect(yield* failure(handler(keyed({ guardrails: ["strict"] })))).toMatchObject({ policy: "strict" })
      // A key naming a policy that does not exist is refused rather than let through.
      expect(yield* failure(handler(keyed({ guardrails: ["nope"] })))).toMatchObject({ _tag: "Internal" })
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("input-only policies leave the output alone", () =>
    Effect.gen(function* () {
      const { handler } = yield* guarded({ policies: { pii: { on: ["input"], pii: ["email"] } } }, () =>
        answer("reach me at x@y.io"),
      )
      const r = yield* handler(say("hi"))
      expect(r._tag === "Chat" && r.chat.parts).toEqual([{ type: "text", text: "reach me at x@y.io" }])
    }),
  )
})

describe("guardrails: output policies", () => {
  it.effect("a complete answer is redacted or blocked", () =>
    Effect.gen(function* () {
      const redact = yield* guarded({ policies: { p: { action: "redact", pii: ["email"] } } }, () =>
        answer("reach me at x@y.io, bye"),
      )
      const r = yield* redact.handler(say("hi"))
      expect(r._tag === "Chat" && r.chat.parts).toEqual([{ type: "text", text: "reach me at [REDACTED:email], bye" }])
      const block = yield* guarded({ policies: { p: { pii: ["email"] } } }, () => answer("reach me at x@y.io"))
      const e = yield* failure(block.handler(say("hi")))
      expect(e).toMatchObject({ policy: "p" })
      expect(e.message).toMatch(/^Response blocked/)
    }),
  )

  it.effect("a secret split across two streamed chunks is caught and none of it is emitted", () =>
    Effect.gen(function* () {
      const { handler } = yield* guarded({ policies: { secrets: { pii: ["secret"] } } }, () =>
        streamed(deltas("Sure! Here is the key: sk-proj-Abc", "defGhijKlmnOp1234 and more text after")),
      )
      const { seen, exit } = yield* drain(yield* handler(say("hi", { stream: true })))
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.getOrUndefined(error)).toMatchObject({ _tag: "GuardrailViolation", policy: "secrets" })
      const emitted = textOf(seen)
      expect(emitted).not.toContain("sk-")
      expect(emitted).not.toContain("Abc")
      expect(seen.some((e) => e._tag === "finish")).toBe(false)
    }),
  )

  it.effect("without the hold-back window the same split secret would leak (the window matters)", () =>
    Effect.gen(function* () {
      // (Secrets keep a floor of their own; an email has none.)
      const { handler } = yield* guarded({ policies: { mails: { pii: ["email"] } }, holdBack: 0 }, () =>
        streamed(deltas("write to jane.d", "oe@example.com")),
      )
      const { seen } = yield* drain(yield* handler(say("hi", { stream: true })))
      expect(textOf(seen)).toContain("jane.d")
    }),
  )

  it.effect("redaction on a stream masks a split email and lets the rest flow unchanged", () =>
    Effect.gen(function* () {
      const pieces = ["Write to jane.d", "oe@exam", "ple.com for help; ", "she answers fast."]
      const { handler } = yield* guarded(
        { policies: { pii: { action: "redact", pii: ["email"] } }, holdBack: 16 },
        () => streamed(deltas(...pieces)),
      )
      const { seen, exit } = yield* drain(yield* handler(say("hi", { stream: true })))
      expect(exit._tag).toBe("Success")
      expect(textOf(seen)).toBe("Write to [REDACTED:email] for help; she answers fast.")
      expect(seen.at(-1)?._tag).toBe("finish")
      // Text is released as it flows, not all at the end.
      expect(seen.filter((e) => e._tag === "text_delta").length).toBeGreaterThan(1)
    }),
  )

  it.effect("streamed tool-call arguments are checked whole", () =>
    Effect.gen(function* () {
      const events: Array<StreamEvent> = [
        { _tag: "start", id: "r", model: "m" },
        { _tag: "tool_call_start", index: 0, id: "c", name: "send" },
        { _tag: "tool_call_delta", index: 0, arguments: '{"to":"bob@exa' },
        { _tag: "tool_call_delta", index: 0, arguments: 'mple.org"}' },
        { _tag: "tool_call_end", index: 0 },
        { _tag: "finish", finishReason: "tool_calls", usage: { inputTokens: 1, outputTokens: 1 } },
      ]
      const { handler } = yield* guarded({ policies: { pii: { action: "redact", pii: ["email"] } } }, () =>
        streamed(events),
      )
      const { seen } = yield* drain(yield* handler(say("hi", { stream: true })))
      const args = seen.flatMap((e) => (e._tag === "tool_call_delta" ? [e.arguments] : [])).join("")
      expect(JSON.parse(args)).toEqual({ to: "[REDACTED:email]" })
      expect(seen.map((e) => e._tag)).toEqual([
        "start",
        "tool_call_start",
        "tool_call_delta",
        "tool_call_end",
        "finish",
      ])
    }),
  )

  it.effect(
    "a violation inside a chunk: what came before it is sent, then the error, and upstream is not read on",
    () =>
      Effect.gen(function* () {
        const finish: StreamEvent = { _tag: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } }
        let readOn = false
        const events = Stream.concat(
          // One chunk: the blocked delta sits between clean ones.
          Stream.fromChunk(
            Chunk.unsafeFromArray<StreamEvent>([
              { _tag: "start", id: "r", model: "m" },
              { _tag: "text_delta", text: "All fine so far. " },
              { _tag: "text_delta", text: "About Project Falcon" },
              { _tag: "text_delta", text: " and the rest." },
            ]),
          ),
          Stream.fromEffect(
            Effect.sync(() => {
              readOn = true
              return finish
            }),
          ),
        )
        const { handler } = yield* guarded(
          { policies: { words: { deny: { keywords: ["Project Falcon"] } } }, holdBack: 0 },
          () => Effect.succeed({ _tag: "ChatStream", events, headers: {} }),
        )
        const { seen, exit } = yield* drain(yield* handler(say("hi", { stream: true })))
        expect(seen).toEqual([
          { _tag: "start", id: "r", model: "m" },
          { _tag: "text_delta", text: "All fine so far. " },
        ])
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        expect(Option.getOrUndefined(error)).toMatchObject({ _tag: "GuardrailViolation", policy: "words" })
        expect(readOn).toBe(false)
      }),
  )

  it.effect("a stream that ends without a finish still gets the text held back", () =>
    Effect.gen(function* () {
      const { handler } = yield* guarded(
        { policies: { pii: { action: "redact", pii: ["email"] } }, holdBack: 64 },
        () => streamed(deltas("Write to jane.d", "oe@example.com today").slice(0, -1)),
      )
      const { seen, exit } = yield* drain(yield* handler(say("hi", { stream: true })))
      expect(exit._tag).toBe("Success")
      expect(seen.map((e) => e._tag)).toEqual(["start", "text_delta"])
      expect(textOf(seen)).toBe("Write to [REDACTED:email] today")
    }),
  )

  it.effect("custom checks: a segment is sent once its check passes; a failing one ends the stream after it", () =>
    Effect.gen(function* () {
      const checked: Array<string> = []
      const custom: Custom.Registry = {
        words: ({ text }) =>
          Effect.sync(() => {
            checked.push(text)
            return text.includes("attack") ? Custom.block("violent content") : Custom.allow
          }),
      }
      const image: StreamEvent = { _tag: "image", mediaType: "image/png", data: "AA==" }
      const { handler } = yield* guarded(
        { policies: { moderated: { custom: "words", on: ["output"] } } },
        () =>
          streamed([
            { _tag: "start", id: "r", model: "m" },
            { _tag: "text_delta", text: "A calm " },
            { _tag: "text_delta", text: "picture:" },
            image,
            { _tag: "text_delta", text: "Now the attack." },
            { _tag: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } },
          ]),
        custom,
      )
      const { seen, exit } = yield* drain(yield* handler(say("hi", { stream: true })))
      expect(seen).toEqual([
        { _tag: "start", id: "r", model: "m" },
        { _tag: "text_delta", text: "A calm picture:" },
        image,
      ])
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.getOrUndefined(error)).toMatchObject({ _tag: "GuardrailViolation", policy: "moderated" })
      expect(checked).toEqual(["A calm picture:", "Now the attack."])
    }),
  )
})

describe("guardrails: config is checked at build", () => {
  it.effect("bad regex, unknown names and empty policies fail with their paths", () =>
    Effect.gen(function* () {
      const section = yield* decode({
        policies: { a: { deny: { regex: ["(unclosed"] } }, b: { custom: "moderation" }, c: {} },
        global: ["a", "zzz"],
      })
      const e = yield* Effect.flip(Middleware.make({ config: section }))
      expect(e.issues.map((i) => i.path)).toEqual([
        "guardrails.policies.a.deny.regex[0]",
        "guardrails.policies.b.custom",
        "guardrails.policies.c",
        "guardrails.global[1]",
      ])
    }),
  )
})
