/**
 * Multi-line secrets on a stream: a private key is held from its BEGIN line until its END line
 * (or blocked past the cap), whatever the chunking — a property over random chunkings shows no
 * piece of the key is ever emitted, and that redaction on a stream gives what it gives whole.
 */
import { describe, expect, it } from "@effect/vitest"
import { Config, type GatewayResponse } from "@sluice/core"
import type { StreamEvent } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Effect, Exit, Stream } from "effect"
import fc from "fast-check"
import { Detectors, Middleware, Policy } from "../src/index.ts"

const body = Array.from({ length: 26 }, (_, i) =>
  `MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC${String.fromCharCode(65 + i)}q7xZ`.padEnd(64, "k"),
).join("\n")
const keyOf = (kind: string) => `-----BEGIN ${kind}-----\n${body}\n-----END ${kind}-----`
const kinds = [
  "PRIVATE KEY",
  "RSA PRIVATE KEY",
  "EC PRIVATE KEY",
  "OPENSSH PRIVATE KEY",
  "ENCRYPTED PRIVATE KEY",
  "PGP PRIVATE KEY BLOCK",
]

/** Pieces of the key that must never reach a client: its header and every line of its body. */
const forbidden = (kind: string) => [`BEGIN ${kind}`, ...body.split("\n").map((l) => l.slice(40, 60))]

const run = (config: Policy.GuardrailsConfigInput, chunks: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const section = yield* Effect.orDie(Config.decodeSection(Policy.GuardrailsConfig, config, "guardrails"))
    const middleware = yield* Effect.orDie(Middleware.make({ config: section }))
    const events: Array<StreamEvent> = [
      { _tag: "start", id: "r", model: "m" },
      ...chunks.map((text): StreamEvent => ({ _tag: "text_delta", text })),
      { _tag: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } },
    ]
    const stub = Stub.stub(() =>
      Effect.succeed<GatewayResponse>({ _tag: "ChatStream", events: Stream.fromIterable(events), headers: {} }),
    )
    const response = yield* Effect.orDie(
      middleware(stub.handler)(Stub.chat({ messages: [{ role: "user", parts: [{ type: "text", text: "hi" }] }] })),
    )
    if (response._tag !== "ChatStream") throw new Error("expected a stream")
    const seen: Array<StreamEvent> = []
    const exit = yield* Effect.exit(Stream.runForEach(response.events, (e) => Effect.sync(() => seen.push(e))))
    return { text: seen.map((e) => (e._tag === "text_delta" ? e.text : "")).join(""), exit }
  })

const chunk = (text: string, size: number) => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

/** Cut `text` at the given fractions (deduplicated, sorted). */
const cutAt = (text: string, cuts: ReadonlyArray<number>) => {
  const points = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].sort((a, b) => a - b)
  const out: Array<string> = []
  let at = 0
  for (const p of points) {
    if (p > at) out.push(text.slice(at, p))
    at = Math.max(at, p)
  }
  out.push(text.slice(at))
  return out
}

const block = { policies: { secrets: { on: ["output" as const], pii: ["secret" as const] } } }
const redact = {
  policies: { secrets: { on: ["output" as const], action: "redact" as const, pii: ["secret" as const] } },
}

const prose = fc.array(fc.constantFrom("The ", "answer ", "is ", "here", ". ", "\n", "key: ", "ok "), {
  maxLength: 60,
})

describe("streamed private keys", () => {
  for (const size of [1, 7, 20, 64, 500]) {
    it.effect(`in ${size}-character chunks a block policy stops the stream before any of the key is sent`, () =>
      Effect.gen(function* () {
        const text = `Sure, here is the key you asked for:\n${keyOf("RSA PRIVATE KEY")}\nKeep it safe.`
        const { text: sent, exit } = yield* run(block, chunk(text, size))
        expect(Exit.isFailure(exit)).toBe(true)
        for (const piece of forbidden("RSA PRIVATE KEY")) expect(sent).not.toContain(piece)
        expect(sent).not.toContain("-----BEGIN")
      }),
    )
  }

  it.effect("property: any chunking, any key type, prose around it — nothing of the key is sent (block)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          prose,
          prose,
          fc.constantFrom(...kinds),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
          async (before, after, kind, cuts) => {
            const text = `${before.join("")}${keyOf(kind)}${after.join("")}`
            const { text: sent, exit } = await Effect.runPromise(run(block, cutAt(text, cuts)))
            expect(Exit.isFailure(exit)).toBe(true)
            for (const piece of forbidden(kind)) expect(sent).not.toContain(piece)
          },
        ),
        { numRuns: 150 },
      ),
    ),
  )

  it.effect("property: redaction on a stream equals redaction of the whole text, for any chunking", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          prose,
          prose,
          fc.constantFrom(...kinds),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
          async (before, after, kind, cuts) => {
            const text = `${before.join("")}${keyOf(kind)}${after.join("")}`
            const { text: sent, exit } = await Effect.runPromise(run(redact, cutAt(text, cuts)))
            expect(Exit.isSuccess(exit)).toBe(true)
            expect(sent).toBe(Detectors.mask(text, Detectors.detectors.secret(text)))
            expect(sent).toContain("[REDACTED:secret]")
            for (const piece of forbidden(kind)) expect(sent).not.toContain(piece)
          },
        ),
        { numRuns: 150 },
      ),
    ),
  )

  it.effect("a key cut off before its END line is still a key: blocked, or masked to the end", () =>
    Effect.gen(function* () {
      const text = `here: ${keyOf("PRIVATE KEY").slice(0, 900)}`
      const blocked = yield* run(block, chunk(text, 20))
      expect(Exit.isFailure(blocked.exit)).toBe(true)
      expect(blocked.text).not.toContain("MIIE")
      const masked = yield* run(redact, chunk(text, 20))
      expect(masked.text).toBe("here: [REDACTED:secret]")
    }),
  )

  it.effect("a key held past holdMax is blocked, not released", () =>
    Effect.gen(function* () {
      const text = `-----BEGIN PRIVATE KEY-----\n${"QUJD".repeat(1_000)}`
      const { text: sent, exit } = yield* run({ ...redact, holdMax: 2_048 }, chunk(text, 64))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(sent).toBe("")
    }),
  )

  it.effect("a BEGIN line split at every position is still recognised with the smallest hold-back", () =>
    Effect.gen(function* () {
      const text = `ok ${keyOf("EC PRIVATE KEY")}`
      for (let split = 1; split < 45; split++) {
        const { text: sent } = yield* run({ ...block, holdBack: 0 }, [text.slice(0, split), text.slice(split)])
        expect(sent).not.toContain("BEGIN")
        expect(sent).not.toContain("MIIE")
      }
    }),
  )
})

describe("invisible padding on a stream", () => {
  it.effect("zero-width characters inside a secret do not push its start out of the hold-back window", () =>
    Effect.gen(function* () {
      const padded = `Here: sk-${"\u200B".repeat(400)}proj-Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1 done`
      for (const size of [1, 7, 20, 64]) {
        const { text: sent, exit } = yield* run(block, chunk(padded, size))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(sent).not.toContain("sk-")
        expect(sent).not.toContain("Zq8Xw7")
      }
    }),
  )
})
