/**
 * The admin console in a real Chromium (Debian's /usr/bin/chromium via playwright-core): sign in
 * with the admin key, create a key on the page, use it through the OpenAI SDK, see the request
 * and its cost in the request log and the live tail, revoke it on the page, see the SDK get 401.
 */
import { randomUUID } from "node:crypto"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import OpenAI from "openai"
import pg from "pg"
import { type BrowserContext, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const executablePath = "/usr/bin/chromium"
const hasChromium = existsSync(executablePath)
if (!hasChromium) console.warn(`console browser test skipped: ${executablePath} is missing (apt-get install chromium)`)

const server = "postgres://postgres@127.0.0.1:5432"
const dbName = `sluice_console_${randomUUID().replaceAll("-", "")}`
const adminKey = "sk-admin-console-test-0123456789"

describe.skipIf(!hasChromium)("admin console in Chromium", () => {
  let admin: pg.Client
  let up: OpenAIUpstream.OpenAIUpstream
  let gw: RunningGateway
  let browser: BrowserContext
  let profile: string

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: `${server}/test` })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${dbName}`)
    up = await OpenAIUpstream.start({ apiKey: "sk-openai-upstream" })
    gw = await startGateway({
      providers: { oa: { type: "openai", baseUrl: up.baseUrl, apiKey: "sk-openai-upstream" } },
      models: { small: { provider: "oa", model: "gpt-4o-mini" } },
      admin: { key: adminKey },
      auth: { store: "postgres" },
      database: { url: `${server}/${dbName}` },
      prices: { "gpt-4o-mini": { input: 150, output: 600 } },
    })
    profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"))
    // A fresh profile directory per run (playwright's way of passing --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
    await gw?.close()
    await up?.close()
    if (admin !== undefined) {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      await admin.end()
    }
  })

  it("creates a key, shows its request and cost, revokes it", async () => {
    const page = await browser.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${gw.url}/admin/ui`)

    // A wrong key is refused; the admin key signs in.
    await page.fill("input[name=key]", "not-the-admin-key")
    await page.click("button[type=submit]")
    await page.getByRole("alert").waitFor()
    await page.fill("input[name=key]", adminKey)
    await page.click("button[type=submit]")

    await page.fill("input[name=name]", "browser-team")
    await page.fill("input[name=rpm]", "100")
    await page.click("text=Create key")
    const secret = (await page.locator("[data-testid=secret] code").textContent({ timeout: 10_000 }))!.trim()
    expect(secret.length).toBeGreaterThan(20)
    await page.locator("tr[data-key=browser-team] .state", { hasText: "active" }).waitFor()

    // The live tail is open before the request is made.
    await page.click("[data-tab=tail]")
    await page.locator("[data-testid=tail-state]", { hasText: "live" }).waitFor({ timeout: 10_000 })

    const client = new OpenAI({ apiKey: secret, baseURL: `${gw.url}/v1`, maxRetries: 0 })
    const answer = await client.chat.completions.create({
      model: "small",
      messages: [{ role: "user", content: "hello from the browser test" }],
    })
    expect(answer.choices[0]!.message.content).toBe("echo: hello from the browser test")
    const usage = answer.usage!
    const cost = `$${((usage.prompt_tokens * 150 + usage.completion_tokens * 600) / 1e6).toFixed(6)}`

    const tailRow = page.locator("[data-testid=tail] tbody tr", { hasText: "browser-team" })
    await tailRow.waitFor({ timeout: 10_000 })
    expect(await tailRow.locator(".cost").textContent()).toBe(cost)

    await page.click("[data-tab=requests]")
    const logRow = page.locator("[data-testid=requests] tbody tr", { hasText: "browser-team" })
    await logRow.waitFor({ timeout: 10_000 })
    expect(await logRow.locator(".cost").textContent()).toBe(cost)
    await page.click("[data-tab=usage]")
    await page.locator(".chart canvas").first().waitFor({ timeout: 10_000 })
    await page.click("[data-tab=config]")
    const config = (await page.locator("[data-testid=config]", { hasText: "providers" }).textContent())!
    expect(config).not.toContain(adminKey)
    expect(config).not.toContain("sk-openai-upstream")
    await page.click("[data-tab=usage]")
    await page.screenshot({ path: join(tmpdir(), "sluice-console.png"), fullPage: true })

    await page.click("[data-tab=keys]")
    page.once("dialog", (d) => void d.accept())
    await page.locator("tr[data-key=browser-team] button.danger").click()
    await page.locator("tr[data-key=browser-team] .state", { hasText: "revoked" }).waitFor()
    const refused = await client.chat.completions
      .create({ model: "small", messages: [{ role: "user", content: "again" }] })
      .catch((e: { status?: number }) => e.status)
    expect(refused).toBe(401)
    expect(errors).toEqual([])
  }, 90_000)
})
