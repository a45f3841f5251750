/**
 * `sluice import gema|litellm`: each peer's documented example config, pointed at hand-written
 * upstream mocks, imports, validates and routes as its source did — the same model ids reach the
 * same upstream models. Bad input is an error naming the line or the key.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import Anthropic from "@anthropic-ai/sdk"
import { GoogleGenAI } from "@google/genai"
import { Effect, Exit } from "effect"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { Import } from "@sluice/gateway"
import { AnthropicUpstream, GeminiUpstream, OpenAIUpstream } from "@sluice/testing"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

const root = Path.resolve(import.meta.dirname, "..")

/** gema's README example, verbatim but for the URLs, which point at the mocks. */
const gemaExample = (urls: { gemini: string; openai: string; deepseek: string; local: string }) => `
[provider.google]
template = "gemini"
api_url = "${urls.gemini}"
api_key = "YOUR_GEMINI_API_KEY"

[provider.openai_official]
template = "openai"
api_url = "${urls.openai}"
api_key = "YOUR_OPENAI_API_KEY"

[provider.deepseek_official]
template = "deepseek"
api_url = "${urls.deepseek}"
api_key = "YOUR_DEEPSEEK_API_KEY"

[model.gemini-2-5-flash]
provider = "google"
model = "gemini-2.5-flash"

[model.gpt-4o]
provider = "openai_official"
model = "gpt-4o"

[model.ds-chat]
provider = "deepseek_official"
model = "deepseek-chat"

[model.local-llama]
template = "openai"
api_url = "${urls.local}"
model = "llama3"

[[transfer]]
make = "gemini-pro"
to = "gemini-2-5-flash"

[[transfer]]
make = "gpt-4"
to = "ds-chat"
`

/** LiteLLM's documented proxy config shape: prefixed models, load balancing, fallbacks, retries, master key. */
const litellmExample = (urls: { openai: string; anthropic: string; vllm: string }) => `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: ${urls.openai}
      api_key: os.environ/OPENAI_API_KEY
  - model_name: claude-sonnet
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: ${urls.anthropic}
      api_key: os.environ/ANTHROPIC_API_KEY
  - model_name: vllm-models
    litellm_params:
      model: hosted_vllm/facebook/opt-125m
      api_base: ${urls.vllm}
      rpm: 1440
    model_info:
      version: 2
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: https://my-endpoint-europe.openai.azure.com/
      api_key: os.environ/AZURE_API_KEY_EU
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  timeout: 30
  fallbacks: [{"gpt-4o": ["claude-sonnet"]}]
litellm_settings:
  drop_params: True
  success_callback: ["langfuse"]
general_settings:
  master_key: sk-1234
`

const importConfig = async (source: Import.Source, text: string) => {
  const exit = await Effect.runPromiseExit(Import.importText(source, text, `example.${source}`))
  if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
  return exit.value
}

describe("sluice import gema", () => {
  let gemini: GeminiUpstream.GeminiMock
  let openai: OpenAIUpstream.OpenAIUpstream
  let deepseek: OpenAIUpstream.OpenAIUpstream
  let local: OpenAIUpstream.OpenAIUpstream
  let gateway: RunningGateway
  let report: ReadonlyArray<string>

  beforeAll(async () => {
    gemini = await GeminiUpstream.start({ apiKey: "YOUR_GEMINI_API_KEY" })
    openai = await OpenAIUpstream.start({ apiKey: "YOUR_OPENAI_API_KEY", models: ["gpt-4o"] })
    deepseek = await OpenAIUpstream.start({
      prefix: "/v1",
      flavor: "deepseek",
      apiKey: "YOUR_DEEPSEEK_API_KEY",
      models: ["deepseek-chat"],
    })
    local = await OpenAIUpstream.start({ models: ["llama3"] })
    const imported = await importConfig(
      "gema",
      gemaExample({ gemini: gemini.url, openai: openai.baseUrl, deepseek: deepseek.baseUrl, local: local.baseUrl }),
    )
    report = imported.report
    // The YAML written out is what a user runs: parse it back rather than reuse the object.
    const config = YAML.parse(imported.yaml) as Record<string, unknown>
    gateway = await startGateway({ ...config, server: undefined })
  })
  afterAll(async () => {
    await gateway?.close()
    await Promise.all([gemini?.close(), openai?.close(), deepseek?.close(), local?.close()])
  })

  const ask = (model: string) =>
    new GoogleGenAI({ apiKey: "any", httpOptions: { baseUrl: gateway.url } }).models.generateContent({
      model,
      contents: "hello",
    })

  it("routes transfers and models to the same upstream models as gema", async () => {
    expect((await ask("gemini-pro")).text).toBeTruthy()
    expect(gemini.requests.at(-1)?.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent")
    await ask("gpt-4")
    expect(deepseek.chatBodies().at(-1)?.model).toBe("deepseek-chat")
    await ask("gpt-4o")
    expect(openai.chatBodies().at(-1)?.model).toBe("gpt-4o")
    await ask("local-llama")
    expect(local.chatBodies().at(-1)?.model).toBe("llama3")
  })

  it("reports literal secrets and keeps gema's port", () => {
    expect(report.some((r) => r.startsWith("provider.google.api_key: a literal secret"))).toBe(true)
    expect(report.some((r) => r.includes("18000"))).toBe(true)
  })

  it("names the line of a TOML error, the key of an unknown template, and refuses other formats", async () => {
    const fail = async (text: string) => {
      const exit = await Effect.runPromiseExit(Import.importText("gema", text, "bad.toml"))
      expect(Exit.isFailure(exit)).toBe(true)
      return Exit.isFailure(exit) ? String(exit.cause) : ""
    }
    expect(await fail('[provider.google]\ntemplate = "gemini"\napi_url = \n')).toMatch(/bad\.toml:3:\d+: /)
    expect(await fail('[provider.x]\ntemplate = "cohere"\napi_url = "http://h"\n')).toMatch(
      /provider\.x\.template: unknown provider template "cohere"/,
    )
    expect(await fail("[server]\nport = 1\n")).toMatch(/not a gema config/)
    expect(await fail('[model.a]\nprovider = "nope"\nmodel = "m"\n')).toMatch(/model\.a\.provider: unknown provider/)
    expect(
      await fail(
        '[provider.p]\napi_url = "http://h"\n[model.a]\nprovider = "p"\nmodel = "m"\n[[transfer]]\nmake = "x"\nto = "b"\n',
      ),
    ).toMatch(/transfer\[0\]\.to: unknown model "b"/)
  })
})

describe("sluice import litellm", () => {
  let openai: OpenAIUpstream.OpenAIUpstream
  let vllm: OpenAIUpstream.OpenAIUpstream
  let anthropic: AnthropicUpstream.AnthropicMock
  let gateway: RunningGateway
  let imported: Awaited<ReturnType<typeof importConfig>>
  const env = {
    OPENAI_API_KEY: "sk-openai-test",
    ANTHROPIC_API_KEY: "sk-ant-mock",
    SLUICE_MASTER_KEY: "sk-1234-master-key-long-enough",
  }

  beforeAll(async () => {
    openai = await OpenAIUpstream.start({ apiKey: env.OPENAI_API_KEY, models: ["gpt-4o"] })
    vllm = await OpenAIUpstream.start({ models: ["facebook/opt-125m"] })
    anthropic = await AnthropicUpstream.start({ apiKey: env.ANTHROPIC_API_KEY })
    imported = await importConfig(
      "litellm",
      litellmExample({ openai: openai.baseUrl, anthropic: anthropic.url, vllm: vllm.baseUrl }),
    )
    const config = YAML.parse(imported.yaml) as Record<string, unknown>
    gateway = await startGateway({ ...config, server: undefined }, env)
  })
  afterAll(async () => {
    await gateway?.close()
    await Promise.all([openai?.close(), vllm?.close(), anthropic?.upstream.close()])
  })

  it("keeps os.environ references as ${ENV} and the master key as admin and virtual key", () => {
    const config = YAML.parse(imported.yaml) as Record<string, Record<string, Record<string, unknown>>>
    const providerOf = (model: string) => config.providers?.[String(config.models?.[model]?.provider)]
    expect(providerOf("gpt-4o")?.apiKey).toBe("${OPENAI_API_KEY}")
    expect(providerOf("claude-sonnet")?.apiKey).toBe("${ANTHROPIC_API_KEY}")
    // LiteLLM's sk-1234 is too short for a Sluice key: the import reads a longer one from the environment.
    expect(config.admin?.key).toBe("${SLUICE_MASTER_KEY}")
    expect(imported.yaml).toMatch(/^# Imported from example\.litellm/)
  })

  it("routes each model_name to the same upstream model, with the master key", async () => {
    const client = new OpenAI({ apiKey: env.SLUICE_MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 })
    await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })
    expect(openai.chatBodies().at(-1)?.model).toBe("gpt-4o")
    await client.chat.completions.create({ model: "vllm-models", messages: [{ role: "user", content: "hi" }] })
    expect(vllm.chatBodies().at(-1)?.model).toBe("facebook/opt-125m")
    const claude = new Anthropic({ apiKey: env.SLUICE_MASTER_KEY, baseURL: gateway.url, maxRetries: 0 })
    await claude.messages.create({
      model: "claude-sonnet",
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    })
    expect(anthropic.messages().at(-1)?.model).toBe("claude-sonnet-4-5")
    await expect(
      new OpenAI({ apiKey: "sk-wrong", baseURL: `${gateway.url}/v1`, maxRetries: 0 }).chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toMatchObject({ status: 401 })
  })

  it("falls back as router_settings.fallbacks said", async () => {
    const before = anthropic.messages().length
    const client = new OpenAI({ apiKey: env.SLUICE_MASTER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 })
    const answer = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "fail:500" }] })
      .withResponse()
    expect(answer.response.headers.get("x-sluice-target")).toBe("anthropic/claude-sonnet-4-5")
    expect(anthropic.messages().length).toBe(before + 1)
  })

  it("reports what has no equivalent", () => {
    const r = imported.report.join("\n")
    expect(r).toMatch(/model_list\[3\] \(azure-gpt\): provider "azure" has no Sluice provider type; skipped/)
    expect(r).toMatch(/model_list\[2\]\.litellm_params\.rpm: no per-deployment equivalent/)
    expect(r).toMatch(/litellm_settings\.success_callback: no equivalent; dropped/)
    expect(r).toMatch(/general_settings\.master_key: a literal secret/)
    expect(r).toMatch(/general_settings\.master_key: shorter than the 16 characters/)
  })

  it("refuses a file that is not a LiteLLM config, and names the line of bad YAML", async () => {
    const fail = async (text: string) => {
      const exit = await Effect.runPromiseExit(Import.importText("litellm", text, "bad.yaml"))
      return Exit.isFailure(exit) ? String(exit.cause) : "ok"
    }
    expect(await fail("providers:\n  openai: { type: openai }\n")).toMatch(
      /not a LiteLLM proxy config: expected a model_list/,
    )
    expect(await fail("model_list:\n  - model_name: a\n    litellm_params: [\n")).toMatch(
      /bad\.yaml:\d+:\d+: invalid YAML/,
    )
    expect(await fail("model_list:\n  - model_name: a\n")).toMatch(/model_list\[0\]\.litellm_params: required/)
  })
})

describe("the sluice import command", () => {
  it("writes YAML that `sluice validate` accepts, and prints the report to stderr", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-import-"))
    const source = Path.join(dir, "config.toml")
    const output = Path.join(dir, "sluice.yaml")
    Fs.writeFileSync(
      source,
      gemaExample({
        gemini: "http://127.0.0.1:9",
        openai: "https://api.openai.com/v1",
        deepseek: "https://api.deepseek.com/v1",
        local: "http://127.0.0.1:11434/v1",
      }),
    )
    const run = (args: Array<string>) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ["apps/gateway/bin/sluice.mjs", ...args], { cwd: root })
        let out = ""
        let err = ""
        child.stdout.on("data", (c) => (out += c))
        child.stderr.on("data", (c) => (err += c))
        child.on("exit", (code) => resolve({ code, out, err }))
      })
    const imported = await run(["import", "gema", source, "--output", output])
    expect(imported.code).toBe(0)
    expect(imported.err).toMatch(/note: provider\.google\.api_key/)
    const validated = await run(["validate", "--config", output])
    expect(validated.err).toBe("")
    expect(validated.out).toMatch(/ok \(4 providers, 4 models, 2 routes\)/)
    const bad = await run(["import", "litellm", source])
    expect(bad.code).not.toBe(0)
    expect(bad.err).toMatch(/invalid YAML|not a LiteLLM proxy config/)
    Fs.rmSync(dir, { recursive: true, force: true })
  }, 120_000)
})
