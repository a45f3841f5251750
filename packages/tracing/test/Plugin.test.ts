import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Config, type Middleware } from "@sluice/core"
import { Errors } from "@sluice/schema"
import { Stub } from "@sluice/testing"
import { Effect, Either, Exit, Scope } from "effect"
import { plugin } from "../src/index.ts"

const config = (sections: Record<string, unknown>) => {
  const parsed = Config.fromObject(sections, {})
  if (Either.isLeft(parsed)) throw new Error(parsed.left.message)
  return parsed.right
}

const install = (sections: Record<string, unknown>) => plugin.fromConfig(config(sections))

const issuesOf = (sections: Record<string, unknown>) =>
  Effect.map(Effect.flip(Effect.scoped(install(sections))), (e) => e.issues.map((i) => i.path))

interface Received {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** A loopback OTLP/HTTP collector that records each POSTed export. */
const collector = Effect.acquireRelease(
  Effect.async<{ url: string; received: Array<Received>; close: () => void }>((resume) => {
    const received: Array<Received> = []
    const server = createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8")
      req.on("data", (c: string) => {
        body += c
      })
      req.on("end", () => {
        received.push({ path: req.url ?? "", headers: req.headers, body })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, close: () => server.close() }))
    })
  }),
  (c) => Effect.sync(c.close),
)

describe("tracing plugin", () => {
  it.effect("is not installed when no section is configured", () =>
    Effect.gen(function* () {
      expect(yield* Effect.scoped(install({}))).toBeUndefined()
    }),
  )

  it.effect("bad config fails at start, naming every bad path", () =>
    Effect.gen(function* () {
      expect(yield* issuesOf({ tracing: { exporter: "otlp" } })).toEqual(["tracing.endpoint"])
      expect(yield* Effect.flip(Effect.scoped(install({ tracing: { exporter: "zipkin" } })))).toMatchObject({
        issues: [{ path: "tracing.exporter", message: "expected one of none, console, otlp" }],
      })
      expect(
        yield* issuesOf({ tracing: { sampleRatio: 2 }, metrics: { bogus: true }, logging: { prompts: "yes" } }),
      ).toEqual(["tracing.sampleRatio", "metrics.bogus", "logging.prompts"])
    }),
  )

  it.live("exports spans over OTLP/HTTP to a collector, with its headers", () =>
    Effect.gen(function* () {
      const otlp = yield* collector
      const scope = yield* Scope.make()
      const installed = (yield* Scope.extend(
        install({
          tracing: { exporter: "otlp", endpoint: otlp.url, headers: { authorization: "Bearer otlp-token" } },
        }),
        scope,
      )) as Middleware.Installed
      yield* installed.middleware(Stub.stub().handler)(Stub.chat({ model: "m" }, { ingress: "gemini" }))
      // Closing the gateway flushes the batch processor.
      yield* Scope.close(scope, Exit.void)
      expect(otlp.received).toHaveLength(1)
      const [post] = otlp.received
      expect(post!.path).toBe("/v1/traces")
      expect(post!.headers.authorization).toBe("Bearer otlp-token")
      const body = JSON.parse(post!.body)
      const resource = body.resourceSpans[0].resource.attributes
      expect(resource).toContainEqual({ key: "service.name", value: { stringValue: "sluice" } })
      const span = body.resourceSpans[0].scopeSpans[0].spans[0]
      expect(span.name).toBe("chat m")
      expect(span.kind).toBe(2) // SERVER
      expect(span.attributes).toContainEqual({ key: "gen_ai.operation.name", value: { stringValue: "chat" } })
      expect(span.attributes).toContainEqual({ key: "sluice.ingress", value: { stringValue: "gemini" } })
    }).pipe(Effect.scoped),
  )

  it.scoped("serves request, error, latency and token metrics as Prometheus text", () =>
    Effect.gen(function* () {
      // Labels come from the config: a models: id, or `other` for a name nobody configured.
      const installed = (yield* install({
        metrics: {},
        providers: { mock: { type: "mock" } },
        models: { m1: { provider: "mock", model: "mock" } },
      })) as Middleware.Installed
      const route = installed.routes?.[0]
      expect(route?.path).toBe("/metrics")
      const ok = installed.middleware(
        Stub.stub(() =>
          Effect.succeed({
            _tag: "Chat",
            chat: Stub.chatResponse(),
            headers: {},
            route: { target: "mock/mock", provider: "mock", model: "mock", attempts: 1 },
          }),
        ).handler,
      )
      const principal = { id: "k", name: "team-a" }
      yield* ok(Stub.chat({ model: "m1" }, { principal }))
      yield* ok(Stub.chat({ model: "m1" }, { principal }))
      const bad = installed.middleware(Stub.failing(new Errors.RateLimited({ message: "slow down" })).handler)
      yield* Effect.flip(bad(Stub.chat({ model: "m1" }, { principal })))
      const response = yield* route!.handle(undefined as never, {})
      const web = HttpServerResponse.toWeb(response)
      expect(web.headers.get("content-type")).toContain("text/plain")
      const text = yield* Effect.promise(() => web.text())
      const line = (name: string) => text.split("\n").find((l) => l.startsWith(name)) ?? ""
      expect(line("sluice_requests_total{")).toContain('gen_ai_provider_name="mock"')
      expect(text).toMatch(
        /sluice_requests_total\{[^}]*gen_ai_provider_name="mock"[^}]*gen_ai_request_model="m1"[^}]*sluice_key_name="team-a"[^}]*\} 2/,
      )
      expect(text).toMatch(/sluice_errors_total\{[^}]*error_type="RateLimited"[^}]*\} 1/)
      yield* ok(Stub.chat({ model: `x${"y".repeat(10_000)}` }, { principal }))
      const again = yield* route!.handle(undefined as never, {})
      const after = yield* Effect.promise(() => HttpServerResponse.toWeb(again).text())
      expect(after).toMatch(/sluice_requests_total\{[^}]*gen_ai_request_model="other"[^}]*\} 1/)
      expect(after).not.toContain("yyyy")
      expect(text).toMatch(/sluice_tokens_total\{[^}]*gen_ai_token_type="input"[^}]*\} 6/)
      expect(text).toMatch(/gen_ai_server_request_duration_count\{[^}]*gen_ai_provider_name="mock"[^}]*\} 2/)
    }),
  )
})
