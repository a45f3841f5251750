/**
 * What the model-id and parameter tests share: three recording upstreams (Gemini, OpenAI,
 * Anthropic mocks that keep every request as received), a real `sluice start` in front of them
 * with virtual keys, and raw HTTP calls in each client format (node:http, so a path is sent
 * exactly as written — no client-side `..` normalisation).
 */
import * as Http from "node:http"
import { AnthropicUpstream, GeminiUpstream, type MockUpstream, OpenAIUpstream } from "@sluice/testing"
import { type SluiceProcess, startSluice } from "./sluice-process.ts"

export const keys = {
  /** May use every model. */
  open: "sk-sec-input-open-0123456789abcdef",
  /** May use `gup/gemini-flash*`, `oup/gpt-4o-mini*` and `aup/claude-haiku*` only. */
  narrow: "sk-sec-input-narrow-0123456789abcdef",
}
const providerKeys = {
  gemini: "gemini-upstream-key-0001",
  openai: "sk-openai-upstream-0001",
  anthropic: "sk-ant-up-0001",
}

export interface Setup {
  readonly sluice: SluiceProcess
  readonly gemini: GeminiUpstream.GeminiMock
  readonly openai: OpenAIUpstream.OpenAIUpstream
  readonly anthropic: AnthropicUpstream.AnthropicMock
  /** A mark: calling it gives every request any upstream received since the mark was taken. */
  readonly mark: () => () => Array<{ readonly upstream: string; readonly request: MockUpstream.Recorded }>
  readonly close: () => Promise<void>
}

export const start = async (): Promise<Setup> => {
  const gemini = await GeminiUpstream.start({ apiKey: providerKeys.gemini })
  const openai = await OpenAIUpstream.start({ apiKey: providerKeys.openai, models: ["gpt-4o-mini"] })
  const anthropic = await AnthropicUpstream.start({ apiKey: providerKeys.anthropic })
  const yaml = [
    "providers:",
    `  gup: { type: gemini, baseUrl: "${gemini.url}", apiKey: "${providerKeys.gemini}" }`,
    `  oup: { type: openai, baseUrl: "${openai.baseUrl}", apiKey: "${providerKeys.openai}" }`,
    `  aup: { type: anthropic, baseUrl: "${anthropic.url}", apiKey: "${providerKeys.anthropic}" }`,
    "models:",
    "  flash: { provider: gup, model: gemini-2.5-flash }",
    "resilience: { retry: { attempts: 1 } }",
    "ingress:",
    "  gemini: { pathPrefix: /gemini }",
    "  openai: { pathPrefix: /api/openai }",
    "  anthropic: { pathPrefix: /api/anthropic }",
    "keys:",
    `  - { name: open, key: "${keys.open}" }`,
    `  - { name: narrow, key: "${keys.narrow}", models: ["gup/gemini-flash*", "oup/gpt-4o-mini*", "aup/claude-haiku*"] }`,
    "",
  ].join("\n")
  let sluice: SluiceProcess
  try {
    sluice = await startSluice(yaml)
  } catch (e) {
    await Promise.all([gemini.close(), openai.close(), anthropic.upstream.close()])
    throw e
  }
  return {
    sluice,
    gemini,
    openai,
    anthropic,
    mark: () => {
      const lists = { gemini: gemini.requests, openai: openai.requests, anthropic: anthropic.upstream.requests }
      const at = Object.fromEntries(Object.entries(lists).map(([name, list]) => [name, list.length]))
      return () =>
        Object.entries(lists).flatMap(([upstream, list]) =>
          list.slice(at[upstream]).map((request) => ({ upstream, request })),
        )
    },
    close: async () => {
      await sluice.stop()
      await Promise.all([gemini.close(), openai.close(), anthropic.upstream.close()])
    },
  }
}

export interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly text: string
  readonly json: unknown
}

/** One HTTP call with the path sent byte for byte as given. */
export const call = (
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const url = new URL(base)
    const req = Http.request(
      { host: url.hostname, port: url.port, method, path, headers: { "content-type": "application/json", ...headers } },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
        res.on("error", reject)
      },
    )
    req.on("error", reject)
    req.end(body)
  })

export type Format = "openai" | "anthropic" | "gemini"

export const credentials = (format: Format, key: string): Record<string, string> =>
  format === "openai"
    ? { authorization: `Bearer ${key}` }
    : format === "anthropic"
      ? { "x-api-key": key, "anthropic-version": "2023-06-01" }
      : { "x-goog-api-key": key }

/** A minimal chat in each format (`model` in the body for OpenAI and Anthropic). */
export const chatBody = (format: Format, model: string | undefined, extra: Record<string, unknown> = {}) => {
  switch (format) {
    case "openai":
      return JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra })
    case "anthropic":
      return JSON.stringify({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }], ...extra })
    case "gemini":
      return JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }], ...extra })
  }
}

/** A chat in `format` naming `model`; Gemini's model goes into the path, encoded as `encode` says. */
export const chat = (
  setup: Setup,
  format: Format,
  model: string,
  options: { key?: string; extra?: Record<string, unknown>; geminiPath?: string } = {},
): Promise<Answer> => {
  const headers = credentials(format, options.key ?? keys.open)
  switch (format) {
    case "openai":
      return call(setup.sluice.url, "POST", "/v1/chat/completions", headers, chatBody(format, model, options.extra))
    case "anthropic":
      return call(setup.sluice.url, "POST", "/v1/messages", headers, chatBody(format, model, options.extra))
    case "gemini":
      return call(
        setup.sluice.url,
        "POST",
        options.geminiPath ?? `/v1beta/models/${encodeURIComponent(model)}:generateContent`,
        headers,
        chatBody(format, undefined, options.extra),
      )
  }
}

/** The error as the client's SDK reads it: message and the field it names, or undefined if not that format's shape. */
export const clientError = (format: Format, a: Answer): { message: string; field: string } | undefined => {
  const o = a.json as Record<string, any> | undefined
  if (o === undefined || typeof o !== "object") return undefined
  switch (format) {
    case "openai": {
      const e = o.error
      if (typeof e?.message !== "string" || typeof e?.type !== "string") return undefined
      return { message: e.message, field: typeof e.param === "string" ? e.param : "" }
    }
    case "anthropic": {
      const e = o.error
      if (o.type !== "error" || typeof e?.type !== "string" || typeof e?.message !== "string") return undefined
      // Anthropic has no param field: the message starts with the field's path.
      return { message: e.message, field: /^([\w.[\]]+):/.exec(e.message)?.[1] ?? "" }
    }
    case "gemini": {
      const e = o.error
      if (e?.code !== a.status || typeof e?.status !== "string" || typeof e?.message !== "string") return undefined
      const violation = Array.isArray(e.details)
        ? e.details.flatMap((d: any) => (Array.isArray(d?.fieldViolations) ? d.fieldViolations : []))[0]
        : undefined
      return { message: e.message, field: typeof violation?.field === "string" ? violation.field : "" }
    }
  }
}
