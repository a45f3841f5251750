/**
 * `sluice import gema config.toml`: gema (api-for-gemini) routes Gemini-format requests by a TOML
 * file of `[provider.ID]` connections (a `template` — gemini, openai or deepseek — an `api_url`
 * and an `api_key`), `[model.NAME]` entries (a provider reference, or the connection inline) and
 * `[[transfer]]` rules (`make` → `to`, `*` anywhere). Each maps onto Sluice's `providers:`,
 * `models:` and `routes:`; gema's port (18000) is kept so Gemini CLI settings still point at it.
 */
import { parse, TomlError } from "smol-toml"
import { ImportError, type Imported, isTable, safeName, secret, uniqueKey } from "./Imported.ts"

const templates = ["gemini", "openai", "deepseek"] as const
type Template = (typeof templates)[number]

const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined)

const isOpenAiItself = (url: string) => {
  try {
    return new URL(url).hostname === "api.openai.com"
  } catch {
    return false
  }
}

/** A gema connection as a Sluice provider entry. */
const provider = (
  template: Template,
  apiUrl: string | undefined,
  apiKey: string | undefined,
): Record<string, unknown> => {
  const type =
    template === "gemini"
      ? "gemini"
      : template === "deepseek"
        ? "deepseek"
        : apiUrl === undefined || isOpenAiItself(apiUrl)
          ? "openai"
          : "openai-compatible"
  return {
    type,
    ...(apiUrl !== undefined ? { baseUrl: apiUrl } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
  }
}

const templateOf = (v: unknown, where: string, file: string): Template => {
  if (v === undefined) return "openai" // gema's default
  if (typeof v === "string" && (templates as ReadonlyArray<string>).includes(v)) return v as Template
  throw new ImportError(
    `${file}: ${where}: unknown provider template ${JSON.stringify(v).slice(0, 60)} (gema knows ${templates.join(", ")})`,
  )
}

export const convert = (text: string, file = "config.toml"): Imported => {
  let doc: Record<string, unknown>
  try {
    doc = parse(text)
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0] ?? "invalid TOML"
      throw new ImportError(`${file}:${e.line}:${e.column}: ${first}`)
    }
    throw new ImportError(`${file}: ${String(e)}`)
  }
  if (!isTable(doc.provider) && !isTable(doc.model)) {
    const found = Object.keys(doc).slice(0, 8).join(", ") || "nothing"
    throw new ImportError(
      `${file}: not a gema config: expected [provider.*], [model.*] and [[transfer]] tables (found: ${found})`,
    )
  }
  const report: Array<string> = []
  for (const k of Object.keys(doc)) {
    if (k !== "provider" && k !== "model" && k !== "transfer") report.push(`${k}: not a gema setting; ignored`)
  }

  const providers: Record<string, unknown> = {}
  const providerName = new Map<string, string>()
  for (const [id, raw] of Object.entries(isTable(doc.provider) ? doc.provider : {})) {
    const where = `provider.${id}`
    if (!isTable(raw)) throw new ImportError(`${file}: ${where}: expected a table`)
    const template = templateOf(raw.template, `${where}.template`, file)
    const apiUrl = str(raw.api_url)
    if (apiUrl === undefined) throw new ImportError(`${file}: ${where}.api_url: required`)
    const name = uniqueKey(providers, safeName(id))
    providerName.set(id, name)
    providers[name] = provider(template, apiUrl, secret(raw.api_key, `${where}.api_key`, report))
  }

  const models: Record<string, unknown> = {}
  for (const [name, raw] of Object.entries(isTable(doc.model) ? doc.model : {})) {
    const where = `model.${name}`
    if (!isTable(raw)) throw new ImportError(`${file}: ${where}: expected a table`)
    const upstream = str(raw.model)
    if (upstream === undefined) throw new ImportError(`${file}: ${where}.model: required`)
    const ref = str(raw.provider)
    let target: string
    if (ref !== undefined) {
      const found = providerName.get(ref)
      if (found === undefined)
        throw new ImportError(`${file}: ${where}.provider: unknown provider "${ref.slice(0, 60)}"`)
      target = found
      if (raw.api_url !== undefined) report.push(`${where}.api_url: ignored because provider is set (as gema does)`)
    } else {
      // An inline connection becomes a provider of its own, named after the model.
      const apiUrl = str(raw.api_url)
      if (apiUrl === undefined) throw new ImportError(`${file}: ${where}: give either provider or api_url`)
      const template = templateOf(raw.template, `${where}.template`, file)
      target = uniqueKey(providers, safeName(name))
      providers[target] = provider(template, apiUrl, secret(raw.api_key, `${where}.api_key`, report))
    }
    models[name] = { provider: target, model: upstream }
  }

  const routes: Array<Record<string, unknown>> = []
  const transfers = doc.transfer === undefined ? [] : doc.transfer
  if (!Array.isArray(transfers)) throw new ImportError(`${file}: transfer: expected [[transfer]] entries`)
  transfers.forEach((raw, i) => {
    const where = `transfer[${i}]`
    if (!isTable(raw)) throw new ImportError(`${file}: ${where}: expected a table`)
    const make = str(raw.make)
    const to = str(raw.to)
    if (make === undefined) throw new ImportError(`${file}: ${where}.make: required`)
    if (to === undefined) throw new ImportError(`${file}: ${where}.to: required`)
    if (!(to in models)) throw new ImportError(`${file}: ${where}.to: unknown model "${to.slice(0, 60)}"`)
    routes.push({ match: make, to })
  })

  report.push("server.port: 18000, gema's port, so clients pointed at gema reach Sluice unchanged")
  return {
    config: { server: { host: "127.0.0.1", port: 18000 }, providers, models, ...(routes.length > 0 ? { routes } : {}) },
    report,
  }
}
