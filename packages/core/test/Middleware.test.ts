/**
 * How to test a middleware alone: build it, wrap a stub handler, call it with a fixture.
 * This file doubles as the documentation of that pattern.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Errors } from "@sluice/schema"
import { Handler, Middleware, Pipeline } from "@sluice/core"
import { Stub } from "@sluice/testing"

/** A tiny middleware for the example: refuses requests without a credential. */
const requireCredential = Middleware.of(
  "require-credential",
  (next) => (request) =>
    request.ctx.credential === undefined
      ? Effect.fail(new Errors.Unauthenticated({ message: "no credential" }))
      : next(request),
)

describe("a middleware, alone against a stub handler", () => {
  it.effect("passes a request on and returns the stub's answer", () =>
    Effect.gen(function* () {
      const stub = Stub.stub()
      const handler = (yield* requireCredential.build)(stub.handler)
      const response = yield* handler(Stub.chat({}, { credential: Redacted.make("sk-test") }))
      expect(response._tag).toBe("Chat")
      expect(stub.calls).toHaveLength(1)
    }),
  )

  it.effect("stops a request before the stub sees it", () =>
    Effect.gen(function* () {
      const stub = Stub.stub()
      const handler = (yield* requireCredential.build)(stub.handler)
      const error = yield* Effect.flip(handler(Stub.chat()))
      expect(error._tag).toBe("Unauthenticated")
      expect(stub.calls).toHaveLength(0)
    }),
  )
})

describe("Pipeline", () => {
  /** Records the order it is entered and left in. */
  const tracer = (name: string, log: Array<string>) =>
    Middleware.of(
      name,
      (next) => (request) =>
        Effect.sync(() => log.push(`> ${name}`)).pipe(
          Effect.zipRight(next(request)),
          Effect.tap(() => Effect.sync(() => log.push(`< ${name}`))),
        ),
    )

  it.effect("runs the first middleware outermost", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const stub = Stub.stub(() =>
        Effect.sync(() => {
          log.push("handler")
          return { _tag: "Chat", chat: Stub.chatResponse(), headers: {} } as const
        }),
      )
      const handler = yield* Pipeline.build(stub.handler, [tracer("a", log), tracer("b", log), tracer("c", log)])
      yield* handler(Stub.chat())
      expect(log).toEqual(["> a", "> b", "> c", "handler", "< c", "< b", "< a"])
    }),
  )

  it.effect("adds response headers through withHeaders", () =>
    Effect.gen(function* () {
      const stamp = Middleware.of(
        "stamp",
        (next) => (request) => Effect.map(next(request), (r) => Handler.withHeaders(r, { "x-stamp": "1" })),
      )
      const handler = yield* Pipeline.build(Stub.stub().handler, [stamp])
      const response = yield* handler(Stub.chat())
      expect(response.headers["x-stamp"]).toBe("1")
    }),
  )

  it.effect("builds middleware from its services once, at assembly", () =>
    Effect.gen(function* () {
      let builds = 0
      const counted = Middleware.make(
        "counted",
        Effect.sync(() => {
          builds++
          return (next: Handler.Handler) => next
        }),
      )
      const handler = yield* Pipeline.build(Stub.stub().handler, [counted])
      yield* handler(Stub.chat())
      yield* handler(Stub.chat())
      expect(builds).toBe(1)
    }),
  )
})
