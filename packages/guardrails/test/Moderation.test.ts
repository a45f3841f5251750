import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Config } from "@sluice/core"
import { Stub } from "@sluice/testing"
import type { StreamEvent } from "@sluice/schema"
import { Effect, Redacted, Stream } from "effect"
import * as Moderation from "../examples/Moderation.ts"
import { Middleware, Policy } from "../src/index.ts"

interface Seen {
  input: string
  authorization: string | undefined
  aborted: boolean
}

/**
 * A loopback moderation service: flags "attack", answers 500 to "crash", and takes 5 s for
 * "slow" (to be cut off by the policy's timeout).
 */
const moderationServer = Effect.acquireRelease(
  Effect.async<{ url: string; seen: Array<Seen>; close: () => void }>((resume) => {
    const seen: Array<Seen> = []
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => {
        body += c.toString("utf8")
      })
      req.on("end", () => {
        const input = String(JSON.parse(body).input)
        const entry: Seen = { input, authorization: req.headers.authorization, aborted: false }
        seen.push(entry)
        res.on("close", () => {
          if (!res.writableEnded) entry.aborted = true
        })
        if (input.includes("crash")) return void res.writeHead(500).end("{}")
        const flagged = input.includes("attack")
        const reply = () =>
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(
              JSON.stringify({ id: "modr-1", results: [{ flagged, categories: { violence: flagged, hate: false } }] }),
            )
        if (input.includes("slow")) setTimeout(reply, 5_000).unref()
        else reply()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(
        Effect.succeed({
          url: `http://127.0.0.1:${port}/v1/moderations`,
          seen,
          close: () => {
            server.closeAllConnections()
            server.close()
          },
        }),
      )
    })
  }),
  (s) => Effect.sync(s.close),
)

const build = (
  url: string,
  policies: Policy.GuardrailsConfigInput["policies"],
  respond?: Parameters<typeof Stub.stub>[0],
) =>
  Effect.gen(function* () {
    const config = yield* Effect.orDie(Config.decodeSection(Policy.GuardrailsConfig, { policies }, "guardrails"))
    const middleware = yield* Effect.orDie(
      Middleware.make({
        config,
        custom: { moderation: Moderation.check({ url, apiKey: Redacted.make("mod-key-123") }) },
      }),
    )
    const stub = Stub.stub(respond)
    return { handler: middleware(stub.handler), stub }
  })

const say = (text: string, stream = false) =>
  Stub.chat({ stream, messages: [{ role: "user", parts: [{ type: "text", text }] }] })

describe("custom guardrail: HTTP moderation endpoint", () => {
  it.live("allows clean text, blocks flagged text with the service's reason", () =>
    Effect.gen(function* () {
      const server = yield* moderationServer
      const { handler, stub } = yield* build(server.url, { moderated: { custom: "moderation", on: ["input"] } })
      yield* handler(say("a friendly question"))
      expect(stub.calls).toHaveLength(1)
      const e = yield* Effect.flip(handler(say("plan an attack")))
      expect(e).toMatchObject({ _tag: "GuardrailViolation", policy: "moderated" })
      expect(e.message).toContain("flagged as violence")
      expect(server.seen.map((s) => s.input)).toEqual(["a friendly question", "plan an attack"])
      expect(server.seen[0]!.authorization).toBe("Bearer mod-key-123")
    }).pipe(Effect.scoped),
  )

  it.live("a slow or failing endpoint blocks (fail closed), and the slow call is aborted", () =>
    Effect.gen(function* () {
      const server = yield* moderationServer
      const { handler, stub } = yield* build(server.url, {
        moderated: { custom: "moderation", on: ["input"], timeout: "200ms" },
      })
      const started = Date.now()
      const slow = yield* Effect.flip(handler(say("slow please")))
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(slow).toMatchObject({ _tag: "GuardrailViolation", policy: "moderated" })
      expect(slow.message).toContain("could not complete")
      const crashed = yield* Effect.flip(handler(say("crash now")))
      expect(crashed).toMatchObject({ _tag: "GuardrailViolation", policy: "moderated" })
      expect(stub.calls).toHaveLength(0)
      yield* Effect.sleep("100 millis")
      expect(server.seen[0]!.aborted).toBe(true)
    }).pipe(Effect.scoped),
  )

  it.live("onError: allow lets traffic through when the checker is down", () =>
    Effect.gen(function* () {
      const server = yield* moderationServer
      const { handler, stub } = yield* build(server.url, {
        moderated: { custom: "moderation", on: ["input"], timeout: "200ms", onError: "allow" },
      })
      yield* handler(say("slow please"))
      yield* handler(say("crash now"))
      expect(stub.calls).toHaveLength(2)
      // But a real verdict still blocks.
      expect(yield* Effect.flip(handler(say("attack")))).toMatchObject({ policy: "moderated" })
    }).pipe(Effect.scoped),
  )

  it.live("the moderation service sees redacted text, never the PII another policy masked", () =>
    Effect.gen(function* () {
      const server = yield* moderationServer
      const { handler } = yield* build(server.url, {
        pii: { action: "redact", pii: ["email"] },
        moderated: { custom: "moderation", on: ["input"] },
      })
      yield* handler(say("mail ann@example.org"))
      expect(server.seen[0]!.input).toBe("mail [REDACTED:email]")
    }).pipe(Effect.scoped),
  )

  it.live("streamed output is held per segment and checked before any of it is sent", () =>
    Effect.gen(function* () {
      const server = yield* moderationServer
      const events: Array<StreamEvent> = [
        { _tag: "start", id: "r", model: "m" },
        { _tag: "text_delta", text: "Step one: plan the " },
        { _tag: "text_delta", text: "attack at dawn." },
        { _tag: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } },
      ]
      const { handler } = yield* build(server.url, { moderated: { custom: "moderation", on: ["output"] } }, () =>
        Effect.succeed({ _tag: "ChatStream", events: Stream.fromIterable(events), headers: {} }),
      )
      const response = yield* handler(say("hi", true))
      const emitted: Array<StreamEvent> = []
      const error = yield* Effect.flip(
        Stream.runForEach(response._tag === "ChatStream" ? response.events : Stream.empty, (e) =>
          Effect.sync(() => emitted.push(e)),
        ),
      )
      expect(error).toMatchObject({ _tag: "GuardrailViolation", policy: "moderated" })
      expect(emitted.filter((e) => e._tag === "text_delta")).toEqual([])
      expect(server.seen.map((s) => s.input)).toEqual(["Step one: plan the attack at dawn."])
    }).pipe(Effect.scoped),
  )
})
