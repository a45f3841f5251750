/**
 * Postgres as the fleet's store, on the real database: two gateways on one database — a key
 * created through one works on the other, a revocation through one is a 401 on the other at
 * once (NOTIFY, not a cache expiry) — one request-log row per request with the tokens and cost
 * the client was told, and migrations that run once.
 */
import { randomUUID } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import OpenAI from "openai"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Database, Ledger as PgLedger, Migrations, Section } from "@sluice/postgres"
import { Config } from "@sluice/core"
import { Either, Scope, Exit } from "effect"
import { OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const server = "postgres://postgres@127.0.0.1:5432"
const dbName = `sluice_test_${randomUUID().replaceAll("-", "")}`
const url = `${server}/${dbName}`
const adminKey = "sk-admin-postgres-test-0123456789"

let admin: pg.Client
let db: pg.Client
let up: OpenAIUpstream.OpenAIUpstream
let a: RunningGateway
let b: RunningGateway

const config = (upUrl: string) => ({
  providers: { oa: { type: "openai", baseUrl: upUrl, apiKey: "sk-openai-upstream" } },
  models: { small: { provider: "oa", model: "gpt-4o-mini" } },
  admin: { key: adminKey },
  // A long cache: only the NOTIFY can make the other instance see a revocation promptly.
  auth: { store: "postgres", cacheTtl: "10m" },
  database: { url },
  prices: { "gpt-4o-mini": { input: 0.15, output: 0.6 } },
  budgets: { store: "postgres" },
})

beforeAll(async () => {
  admin = new pg.Client({ connectionString: `${server}/test` })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${dbName}`)
  db = new pg.Client({ connectionString: url })
  await db.connect()
  up = await OpenAIUpstream.start({ apiKey: "sk-openai-upstream" })
  a = await startGateway(config(up.baseUrl))
  b = await startGateway(config(up.baseUrl))
})

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()])
  await up?.close()
  await db?.end()
  if (admin !== undefined) {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
    await admin.end()
  }
})

const adminCall = async (gw: RunningGateway, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}
const openai = (gw: RunningGateway, key: string) => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 })

/** Poll (bounded) until `check` passes. */
const eventually = async <A>(read: () => Promise<A>, check: (a: A) => boolean, what: string): Promise<A> => {
  for (let i = 0; i < 200; i++) {
    const value = await read()
    if (check(value)) return value
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe("postgres key store", () => {
  it("a key made on one instance works on the other; a revocation on one is a 401 on the other", async () => {
    const created = await adminCall(a, "POST", "/admin/keys", { name: "fleet" })
    expect(created.status).toBe(201)
    const key = created.body.key as string
    const id = created.body.id as string
    const answer = await openai(b, key).chat.completions.create({
      model: "small",
      messages: [{ role: "user", content: "hello" }],
    })
    expect(answer.choices[0]!.message.content).toBe("echo: hello")
    // b now has the key in its memory cache (10 minutes).
    expect((await adminCall(b, "GET", `/admin/keys/${id}`)).body.name).toBe("fleet")

    expect((await adminCall(a, "POST", `/admin/keys/${id}/revoke`)).status).toBe(200)
    const status = await eventually(
      () =>
        openai(b, key)
          .chat.completions.create({ model: "small", messages: [{ role: "user", content: "again" }] })
          .then(
            () => 200,
            (e: { status?: number }) => e.status ?? 0,
          ),
      (s) => s !== 200,
      "the revocation to reach the other instance",
    )
    expect(status).toBe(401)
  })
})

describe("request log", () => {
  it("holds one row per request with the tokens and cost the client saw", async () => {
    const created = await adminCall(a, "POST", "/admin/keys", { name: "logged" })
    const key = created.body.key as string
    const whole = await openai(a, key).chat.completions.create({
      model: "small",
      messages: [{ role: "user", content: "count my tokens please" }],
    })
    let streamedUsage: OpenAI.CompletionUsage | undefined
    for await (const chunk of await openai(b, key).chat.completions.create({
      model: "small",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "and these streamed" }],
    }))
      if (chunk.usage) streamedUsage = chunk.usage
    const missing = await openai(a, key)
      .chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] })
      .catch((e: { status?: number }) => e.status)
    expect(missing).toBe(404)

    type Row = {
      key_name: string
      model_requested: string
      model_served: string | null
      provider: string | null
      status: number
      stream: boolean
      input_tokens: number | null
      output_tokens: number | null
      cost_usd: number | null
      cache_hit: boolean
      error_class: string | null
      prompt: string | null
      latency_ms: number
    }
    const rows = await eventually(
      async () =>
        (await db.query<Row>("SELECT * FROM sluice_request_log WHERE key_id = $1 ORDER BY time", [created.body.id]))
          .rows,
      (r) => r.length >= 3,
      "three request-log rows",
    )
    expect(rows.length).toBe(3)
    const cost = (input: number, output: number) => (input * 0.15 + output * 0.6) / 1e6
    const [first, second, third] = rows
    expect(first).toMatchObject({
      key_name: "logged",
      model_requested: "small",
      model_served: "gpt-4o-mini",
      provider: "oa",
      status: 200,
      stream: false,
      input_tokens: whole.usage!.prompt_tokens,
      output_tokens: whole.usage!.completion_tokens,
      cache_hit: false,
      error_class: null,
      prompt: null,
    })
    expect(first!.cost_usd).toBeCloseTo(cost(whole.usage!.prompt_tokens, whole.usage!.completion_tokens), 12)
    expect(streamedUsage).toBeDefined()
    expect(second).toMatchObject({
      stream: true,
      status: 200,
      input_tokens: streamedUsage!.prompt_tokens,
      output_tokens: streamedUsage!.completion_tokens,
    })
    expect(second!.cost_usd).toBeCloseTo(cost(streamedUsage!.prompt_tokens, streamedUsage!.completion_tokens), 12)
    expect(third).toMatchObject({
      model_requested: "no-such-model",
      status: 404,
      error_class: "NotFound",
      cost_usd: null,
    })

    // The same rows through the admin API, filtered.
    const listed = await adminCall(b, "GET", `/admin/requests?key=logged&status=404`)
    expect((listed.body.data as Array<{ modelRequested: string }>).map((r) => r.modelRequested)).toEqual([
      "no-such-model",
    ])
    expect((await adminCall(b, "GET", "/admin/requests?limit=0")).status).toBe(400)
    const daily = await adminCall(a, "GET", "/admin/usage/daily")
    const mine = (daily.body.data as Array<{ key: string; requests: number }>).filter((r) => r.key === "logged")
    expect(mine.reduce((n, r) => n + r.requests, 0)).toBe(3)
    expect((await fetch(`${a.url}/admin/requests`)).status).toBe(401)
  })
})

describe("request log of refused requests", () => {
  it("holds a row for a request refused before the handler (an unknown key), with no key and no model", async () => {
    const requestId = `refused-${randomUUID()}`
    const res = await fetch(`${a.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: "Bearer sk-not-a-key-of-ours-0123456789",
        "content-type": "application/json",
        "x-request-id": requestId,
      },
      body: JSON.stringify({ model: "small", messages: [{ role: "user", content: "hi" }] }),
    })
    expect(res.status).toBe(401)
    const rows = await eventually(
      async () =>
        (
          await db.query(
            "SELECT key_id, model_requested, status, error_class, operation FROM sluice_request_log WHERE status = 401 AND error_class = 'Unauthenticated' ORDER BY time DESC LIMIT 5",
          )
        ).rows,
      (r) => r.length >= 1,
      "the refused request's row",
    )
    expect(rows[0]).toMatchObject({ key_id: null, model_requested: null, status: 401, operation: "refused" })
  })
})

describe("spend ledger", () => {
  it("keeps every key's spend in Postgres: shared by instances, enforced across them, and exact under concurrency", async () => {
    const created = await adminCall(a, "POST", "/admin/keys", {
      name: "spender",
      budget: { usd: 0.000_2, period: "monthly" },
    })
    expect(created.status).toBe(201)
    const key = created.body.key as string
    const id = created.body.id as string
    let input = 0
    let output = 0
    for (const gw of [a, b]) {
      const r = await openai(gw, key).chat.completions.create({
        model: "small",
        max_tokens: 16,
        messages: [{ role: "user", content: "spend a little" }],
      })
      input += r.usage!.prompt_tokens
      output += r.usage!.completion_tokens
    }
    const cost = (input * 0.15 + output * 0.6) / 1e6
    // Either instance reads the same ledger: both requests, their tokens and their exact cost.
    const usage = await eventually(
      () => adminCall(b, "GET", `/admin/keys/${id}/usage`),
      (u) => (u.body.usage as Record<string, { requests: number }>).monthly?.requests === 2,
      "both requests in the ledger",
    )
    const monthly = (usage.body.usage as Record<string, { usd: number; inputTokens: number; outputTokens: number }>)
      .monthly!
    expect(monthly).toMatchObject({ inputTokens: input, outputTokens: output })
    expect(monthly.usd).toBeCloseTo(cost, 12)
    const rows = await db.query("SELECT period, requests FROM sluice_spend WHERE key_id = $1 ORDER BY period", [id])
    expect(rows.rows.map((r) => [r.period, Number(r.requests)])).toEqual([
      ["daily", 2],
      ["monthly", 2],
      ["total", 2],
      ["weekly", 2],
    ])

    // Spend the rest of the budget, half through each instance: once it is gone, both refuse.
    const statuses: Array<number> = []
    for (let i = 0; i < 40 && !statuses.includes(403); i++)
      statuses.push(
        await openai(i % 2 === 0 ? a : b, key)
          .chat.completions.create({
            model: "small",
            max_tokens: 16,
            messages: [{ role: "user", content: "spend ".repeat(200) }],
          })
          .then(
            () => 200,
            (e: { status?: number }) => e.status ?? 0,
          ),
      )
    expect(statuses).toContain(403)
    for (const gw of [a, b]) {
      const status = await openai(gw, key)
        .chat.completions.create({
          model: "small",
          max_tokens: 16,
          messages: [{ role: "user", content: "spend ".repeat(200) }],
        })
        .then(
          () => 200,
          (e: { status?: number }) => e.status ?? 0,
        )
      expect(status).toBe(403)
    }
  })

  it("reserves atomically across instances: concurrent holds never pass the limit", async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const section = Either.getOrThrow(Config.decodeSection(Section.Section, { url }))
      const [one, two] = await Effect.runPromise(
        Effect.all([Database.open(section), Database.open(section)]).pipe(Scope.extend(scope)),
      )
      const ledgers = [
        PgLedger.make({ sql: one.sql, timeoutMs: 5_000 }),
        PgLedger.make({ sql: two.sql, timeoutMs: 5_000 }),
      ]
      const now = Date.now()
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          Effect.runPromise(ledgers[i % 2]!.reserve("concurrent-key", "daily", 10_000, 1_000, now)),
        ),
      )
      expect(results.filter((r) => r.ok).length).toBe(10)
      expect(await Effect.runPromise(ledgers[1]!.spent("concurrent-key", "daily", now))).toBe(10_000)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

describe("migrations", () => {
  it("run once: a later start (or run) applies nothing", async () => {
    const applied = await db.query<{ migration_id: number; name: string }>(
      `SELECT migration_id, name FROM ${Migrations.table} ORDER BY migration_id`,
    )
    expect(applied.rows.map((r) => r.name)).toEqual(["keys", "spend", "request_log"])
    const section = Either.getOrThrow(Config.decodeSection(Section.Section, { url }))
    const scope = Effect.runSync(Scope.make())
    const again = await Effect.runPromise(
      Effect.gen(function* () {
        const opened = yield* Database.open(section)
        return yield* Migrations.run.pipe(Effect.provideService(SqlClient.SqlClient, opened.sql))
      }).pipe(Scope.extend(scope)),
    )
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(again).toEqual([])
  })
})
