/**
 * Every middleware on at once, configured from one YAML-shaped config — the reference server as
 * people run it: virtual keys with their own guardrails and limits, rate limits, budgets,
 * tracing (OTLP to a loopback collector) and guardrails, in front of the mock model.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const TEAM_A = "sk-team-a-0123456789abcdef"
const TEAM_B = "sk-team-b-0123456789abcdef"

let gw: RunningGateway
let collector: { url: string; bodies: Array<string>; close: () => Promise<unknown> }

beforeAll(async () => {
  const bodies: Array<string> = []
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (c: Buffer) => (body += c.toString()))
    req.on("end", () => {
      if (req.url === "/v1/traces") bodies.push(body)
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  collector = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () => new Promise((r) => server.close(r)),
  }
  gw = await startGateway({
    providers: { mock: { type: "mock" } },
    models: { mock: { provider: "mock", model: "mock" } },
    keys: [
      { name: "team-a", key: TEAM_A, guardrails: ["no-emails"], rateLimit: { rpm: 3 } },
      { name: "team-b", key: TEAM_B, budget: { usd: 1 } },
    ],
    rateLimit: {},
    prices: { mock: { input: 1, output: 2 } },
    budgets: {},
    tracing: { exporter: "otlp", endpoint: collector.url },
    logging: { access: false },
    guardrails: { global: [], policies: { "no-emails": { pii: ["email"] } } },
  })
})

afterAll(async () => {
  await gw?.close()
  await collector?.close()
})

const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 })
const ask = (key: string, content: string) =>
  client(key).chat.completions.create({ model: "mock", messages: [{ role: "user", content }] })

describe("the whole pipeline from one config", () => {
  it("runs the middleware in the default order", () => {
    expect(gw.assembled.middleware).toEqual(["tracing", "files", "auth", "ratelimit", "budgets", "guardrails"])
  })

  it("applies a key's own guardrails to that key only", async () => {
    const blocked = await ask(TEAM_A, "mail me at jane@example.com").catch((e: unknown) => e)
    expect(blocked).toBeInstanceOf(OpenAI.BadRequestError)
    expect((blocked as Error).message).toContain("no-emails")
    expect((blocked as Error).message).not.toContain("jane@example.com")
    const allowed = await ask(TEAM_B, "mail me at jane@example.com")
    expect(allowed.choices[0]!.message.content).toBe("echo: mail me at jane@example.com")
  })

  it("limits a key by its own rate limit, with headers", async () => {
    const raw = await client(TEAM_A)
      .chat.completions.create({ model: "mock", messages: [{ role: "user", content: "hi" }] })
      .withResponse()
    expect(raw.response.headers.get("x-ratelimit-limit-requests")).toBe("3")
    await ask(TEAM_A, "hi").catch(() => undefined)
    const limited = await ask(TEAM_A, "hi").catch((e: unknown) => e)
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError)
    expect(Number((limited as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after"))).toBeGreaterThan(
      0,
    )
  })

  it("refuses an unknown key with 401", async () => {
    expect(await ask("sk-not-a-key-0123456789", "hi").catch((e: unknown) => e)).toBeInstanceOf(
      OpenAI.AuthenticationError,
    )
  })

  it("names the key (never the key itself) on the request span", async () => {
    await ask(TEAM_B, "trace me")
    let spans: Array<{ name: string; attributes: Array<{ key: string; value: { stringValue?: string } }> }> = []
    for (let i = 0; i < 100; i++) {
      spans = collector.bodies.flatMap((b) =>
        JSON.parse(b).resourceSpans.flatMap((rs: { scopeSpans: Array<{ spans: Array<never> }> }) =>
          rs.scopeSpans.flatMap((s) => s.spans),
        ),
      )
      if (spans.some((s) => s.attributes.some((a) => a.key === "sluice.key.name" && a.value.stringValue === "team-b")))
        break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(
      spans.some((s) => s.attributes.some((a) => a.key === "sluice.key.name" && a.value.stringValue === "team-b")),
    ).toBe(true)
    expect(collector.bodies.join("")).not.toContain(TEAM_B)
  })
})
