/**
 * Gemini CLI (@google/gemini-cli, pinned) routed to an OpenAI-format model: the model asks for
 * `read_file` on a multi-line file, the CLI runs it and sends `{"output": "<file text>"}` back,
 * and the upstream receives the file's text as the tool message's text — real newlines, not a
 * JSON string with every newline escaped.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { OpenAIUpstream } from "@sluice/testing"
import * as SetupGeminiCli from "../apps/gateway/src/SetupGeminiCli.ts"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const root = new URL("..", import.meta.url).pathname
const geminiBin = Path.join(root, "node_modules/@google/gemini-cli/bundle/gemini.js")

const runNode = (script: string, args: ReadonlyArray<string>, env: Record<string, string>, cwd: string) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), 100_000)
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })

const tempDir = (name: string) => Fs.mkdtempSync(Path.join(Os.tmpdir(), `sluice-${name}-`))

let gw: RunningGateway
let upstream: OpenAIUpstream.OpenAIUpstream

beforeAll(async () => {
  upstream = await OpenAIUpstream.start({ apiKey: "sk-openai-upstream" })
  const to = { provider: "oa", model: "gpt-4o-mini" }
  gw = await startGateway({
    providers: { oa: { type: "openai", baseUrl: upstream.baseUrl, apiKey: "sk-openai-upstream" } },
    models: { "gemini-2.5-pro": to, "gemini-2.5-flash": to, "gemini-2.5-flash-lite": to },
  })
})
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
})

describe("Gemini CLI → Sluice → OpenAI-format upstream", () => {
  it("reads a multi-line file with read_file; the upstream gets the text with real newlines", async () => {
    const home = tempDir("gemini-home")
    SetupGeminiCli.write(home, gw.url, "anything")
    const work = Fs.realpathSync(tempDir("gemini-work"))
    const file = Path.join(work, "notes.txt")
    const text = 'first line\n  second "quoted" line\n\tthird line with a tab\nlast line'
    Fs.writeFileSync(file, text)
    const r = await runNode(
      geminiBin,
      [
        "-p",
        `read my notes call:read_file:${JSON.stringify({ file_path: file })}`,
        "-m",
        "gemini-2.5-pro",
        "-o",
        "json",
      ],
      { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, NO_COLOR: "1", GEMINI_CLI_TRUST_WORKSPACE: "true" },
      work,
    )
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { stats: { tools: { totalCalls: number; totalSuccess: number } } }
    expect(out.stats.tools).toMatchObject({ totalCalls: 1, totalSuccess: 1 })
    const toolMessages = upstream
      .chatBodies()
      .flatMap((b) => (b.messages as Array<Record<string, unknown>>).filter((m) => m.role === "tool"))
    expect(toolMessages.length).toBeGreaterThan(0)
    const content = toolMessages[0]!.content
    expect(typeof content).toBe("string")
    expect(content).toContain(text)
    expect(content as string).not.toMatch(/^\{"output"/)
  }, 120_000)
})
