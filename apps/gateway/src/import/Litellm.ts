/**
 * `sluice import litellm config.yaml`: LiteLLM's proxy config → Sluice.
 *
 * - `model_list`: each `model_name` becomes a `models:` id; several entries with one name become
 *   weighted `deployments` (LiteLLM load-balances them). `litellm_params.model` is
 *   `<provider>/<model>`; the provider prefix picks the Sluice provider type, `api_base` its
 *   `baseUrl`, `api_key` the deployment's key. `os.environ/NAME` becomes `${NAME}`.
 * - `router_settings` (and `litellm_settings`) `fallbacks` become `routes:` with `fallbacks`;
 *   `num_retries`, `timeout`, `allowed_fails`, `cooldown_time` become `resilience:`;
 *   `model_group_alias` becomes routes; `redis_host`/`redis_port`/`redis_password` become `redis:`.
 * - `general_settings.master_key` becomes the admin key and a virtual key named `master`.
 * Anything else is listed in the report.
 */
import * as YAML from "yaml"
import { ImportError, type Imported, isTable, secret, uniqueKey } from "./Imported.ts"

/** LiteLLM provider prefix → Sluice provider type (and a default base URL where LiteLLM has one). */
const providerTypes: Record<string, { type: string; baseUrl?: string }> = {
  openai: { type: "openai" },
  text_completion_openai: { type: "openai" },
  anthropic: { type: "anthropic" },
  gemini: { type: "gemini" },
  deepseek: { type: "deepseek" },
  xai: { type: "xai" },
  ollama: { type: "ollama" },
  ollama_chat: { type: "ollama" },
  hosted_vllm: { type: "openai-compatible" },
  openai_like: { type: "openai-compatible" },
  lm_studio: { type: "openai-compatible" },
  llamafile: { type: "openai-compatible" },
}

/** Bare model names LiteLLM resolves without a prefix. */
const bareProvider = (model: string): string | undefined =>
  /^(gpt-|o\d|chatgpt-|text-embedding-|dall-e)/.test(model)
    ? "openai"
    : /^claude-/.test(model)
      ? "anthropic"
      : /^gemini-/.test(model)
        ? "gemini"
        : undefined

/** `os.environ/NAME` → `${NAME}`; other values as they are. */
const envValue = (v: unknown): unknown => {
  if (typeof v !== "string") return v
  const m = /^os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(v.trim())
  return m ? `\${${m[1]}}` : v
}

const str = (v: unknown): string | undefined => {
  const e = envValue(v)
  return typeof e === "string" && e.trim() !== "" ? e.trim() : typeof e === "number" ? String(e) : undefined
}

/** Ollama's OpenAI endpoint lives under /v1 of the base LiteLLM is given. */
const ollamaBase = (base: string) => (/\/v1\/?$/.test(base) ? base : `${base.replace(/\/+$/, "")}/v1`)

const seconds = (v: unknown): number | undefined => {
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : Number.NaN
  return Number.isFinite(n) && n >= 0 ? n : undefined
}

interface Deployment {
  provider: string
  model: string
  weight?: number
}

/** The variable LiteLLM falls back to for each vendor's key. */
const implicitKeys: Record<string, string> = {
  openai: "OPENAI_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
  gemini: "GEMINI_API_KEY",
  deepseek: "DEEPSEEK_API_KEY",
  xai: "XAI_API_KEY",
}

/** LiteLLM's `fallbacks: [{ model: [a, b] }]` as pairs. */
const fallbackPairs = (v: unknown, where: string, file: string): Array<[string, Array<string>]> => {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new ImportError(`${file}: ${where}: expected a list like [{"gpt-4": ["gpt-3.5-turbo"]}]`)
  return v.flatMap((item, i) => {
    if (!isTable(item)) throw new ImportError(`${file}: ${where}[${i}]: expected a mapping of model → fallbacks`)
    return Object.entries(item).map(([model, list]): [string, Array<string>] => {
      if (!Array.isArray(list) || !list.every((x) => typeof x === "string"))
        throw new ImportError(`${file}: ${where}[${i}].${model}: expected a list of model names`)
      return [model, list as Array<string>]
    })
  })
}

/** The shortest key Sluice accepts (virtual and admin keys). */
const minKeyLength = 16

const known = new Set([
  "model_list",
  "router_settings",
  "litellm_settings",
  "general_settings",
  "environment_variables",
])

export const convert = (text: string, file = "config.yaml"): Imported => {
  const doc = YAML.parseDocument(text, { prettyErrors: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const pos = e.linePos?.[0]
    throw new ImportError(
      `${file}${pos ? `:${pos.line}:${pos.col}` : ""}: invalid YAML: ${e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}`,
    )
  }
  const raw: unknown = doc.toJS()
  if (!isTable(raw) || !Array.isArray(raw.model_list)) {
    const found = isTable(raw) ? Object.keys(raw).slice(0, 8).join(", ") || "nothing" : typeof raw
    throw new ImportError(`${file}: not a LiteLLM proxy config: expected a model_list (found: ${found})`)
  }
  const report: Array<string> = []
  for (const k of Object.keys(raw)) if (!known.has(k)) report.push(`${k}: not a LiteLLM proxy setting; ignored`)
  if (raw.environment_variables !== undefined)
    report.push("environment_variables: set these in the gateway's environment instead")

  const providers: Record<string, unknown> = {}
  /** One provider per endpoint and key, so deployments that share both share a provider. */
  const byEndpoint = new Map<string, string>()
  const providerFor = (type: string, baseUrl: string | undefined, apiKey: string | undefined): string => {
    const endpoint = JSON.stringify([type, baseUrl ?? "", apiKey ?? ""])
    const found = byEndpoint.get(endpoint)
    if (found !== undefined) return found
    const name = uniqueKey(providers, type)
    providers[name] = {
      type,
      ...(baseUrl !== undefined ? { baseUrl } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
    }
    byEndpoint.set(endpoint, name)
    return name
  }

  const groups = new Map<string, Array<Deployment>>()
  raw.model_list.forEach((entry: unknown, i: number) => {
    const where = `model_list[${i}]`
    if (!isTable(entry)) throw new ImportError(`${file}: ${where}: expected a mapping`)
    const name = str(entry.model_name)
    if (name === undefined) throw new ImportError(`${file}: ${where}.model_name: required`)
    const params = entry.litellm_params
    if (!isTable(params)) throw new ImportError(`${file}: ${where}.litellm_params: required`)
    const model = str(params.model)
    if (model === undefined) throw new ImportError(`${file}: ${where}.litellm_params.model: required`)
    const slash = model.indexOf("/")
    const prefix = slash > 0 ? model.slice(0, slash) : bareProvider(model)
    const upstreamModel = slash > 0 ? model.slice(slash + 1) : model
    const mapped = prefix === undefined ? undefined : providerTypes[prefix]
    if (mapped === undefined) {
      report.push(
        `${where} (${name.slice(0, 60)}): provider "${(prefix ?? model).slice(0, 40)}" has no Sluice provider type; skipped`,
      )
      return
    }
    let baseUrl = str(params.api_base)
    let type = mapped.type
    if (type === "openai" && baseUrl !== undefined && !/^https:\/\/api\.openai\.com/.test(baseUrl))
      type = "openai-compatible"
    if (type === "ollama" && baseUrl !== undefined) baseUrl = ollamaBase(baseUrl)
    if (type === "openai-compatible" && baseUrl === undefined)
      throw new ImportError(`${file}: ${where}.litellm_params.api_base: required for ${prefix}/ models`)
    let apiKey = secret(envValue(params.api_key), `${where}.litellm_params.api_key`, report)
    const implicit = implicitKeys[type]
    if (apiKey === undefined && implicit !== undefined) {
      // LiteLLM reads the vendor's usual variable when api_key is absent; so does the import.
      apiKey = `\${${implicit}}`
      report.push(`${where}: no api_key; using \${${implicit}} as LiteLLM would`)
    }
    const provider = providerFor(type, baseUrl, apiKey)
    const weight = seconds(params.weight ?? entry.weight)
    for (const k of Object.keys(params)) {
      if (!["model", "api_base", "api_key", "weight"].includes(k))
        report.push(`${where}.litellm_params.${k}: no per-deployment equivalent in Sluice; dropped`)
    }
    for (const k of ["rpm", "tpm"]) {
      if (entry[k] !== undefined) report.push(`${where}.${k}: per-deployment limits have no equivalent; dropped`)
    }
    if (entry.model_info !== undefined) report.push(`${where}.model_info: dropped (set prices: for cost tracking)`)
    const list = groups.get(name) ?? []
    list.push({
      provider,
      model: upstreamModel,
      ...(weight !== undefined && weight > 0 ? { weight } : {}),
    })
    groups.set(name, list)
  })

  const models: Record<string, unknown> = {}
  for (const [name, list] of groups) {
    const [only] = list
    models[name] =
      list.length === 1 && only !== undefined && only.weight === undefined
        ? { provider: only.provider, model: only.model }
        : { deployments: list }
  }

  const router = isTable(raw.router_settings) ? raw.router_settings : {}
  const lib = isTable(raw.litellm_settings) ? raw.litellm_settings : {}
  const general = isTable(raw.general_settings) ? raw.general_settings : {}

  const routes: Array<Record<string, unknown>> = []
  const resolvable = (m: string) => m in models
  for (const [where, source] of [
    ["router_settings.fallbacks", router.fallbacks],
    ["litellm_settings.fallbacks", lib.fallbacks],
  ] as const) {
    for (const [model, list] of fallbackPairs(source, where, file)) {
      const usable = list.filter(resolvable)
      for (const f of list)
        if (!resolvable(f)) report.push(`${where}: fallback "${f.slice(0, 60)}" names no imported model; dropped`)
      if (!resolvable(model)) {
        report.push(`${where}: "${model.slice(0, 60)}" names no imported model; dropped`)
        continue
      }
      if (usable.length > 0) routes.push({ match: model, to: model, fallbacks: usable })
    }
  }
  const aliases = router.model_group_alias
  if (isTable(aliases)) {
    for (const [alias, target] of Object.entries(aliases)) {
      const to = typeof target === "string" ? target : isTable(target) ? str(target.model) : undefined
      if (to !== undefined && resolvable(to)) routes.push({ match: alias, to })
      else report.push(`router_settings.model_group_alias.${alias}: target names no imported model; dropped`)
    }
  }

  const resilience: Record<string, unknown> = {}
  const retries = seconds(router.num_retries ?? lib.num_retries)
  if (retries !== undefined) resilience.retry = { attempts: Math.min(10, Math.floor(retries) + 1) }
  const timeout = seconds(router.timeout ?? lib.request_timeout)
  if (timeout !== undefined) resilience.timeout = { total: `${timeout}s` }
  const fails = seconds(router.allowed_fails)
  const cooldown = seconds(router.cooldown_time)
  if (fails !== undefined || cooldown !== undefined)
    resilience.circuitBreaker = {
      ...(fails !== undefined ? { failures: Math.max(1, Math.floor(fails)) } : {}),
      ...(cooldown !== undefined ? { cooldown: `${cooldown}s` } : {}),
    }

  const out: Record<string, unknown> = {
    server: { host: "0.0.0.0", port: 4000 },
    providers,
    models,
    ...(routes.length > 0 ? { routes } : {}),
    ...(Object.keys(resilience).length > 0 ? { resilience } : {}),
  }
  report.push("server.port: 4000, LiteLLM's port, so clients pointed at LiteLLM reach Sluice unchanged")

  const host = str(router.redis_host)
  if (host !== undefined) {
    const port = str(router.redis_port) ?? "6379"
    const password = str(router.redis_password)
    out.redis = { url: `redis://${password !== undefined ? `:${password}@` : ""}${host}:${port}` }
    out.rateLimit = { store: "redis" }
  }

  let master = secret(envValue(general.master_key), "general_settings.master_key", report)
  if (master !== undefined && !master.startsWith("${") && master.length < minKeyLength) {
    // Sluice refuses short keys; the import asks for a longer one rather than weakening that.
    report.push(
      `general_settings.master_key: shorter than the ${minKeyLength} characters Sluice requires of a key; the imported config reads it from \${SLUICE_MASTER_KEY} — set that to a longer key`,
    )
    master = "${SLUICE_MASTER_KEY}"
  }
  if (master !== undefined) {
    out.admin = { key: master }
    out.keys = [{ name: "master", key: master }]
  }
  for (const k of Object.keys(general)) {
    if (k !== "master_key") report.push(`general_settings.${k}: no equivalent imported; dropped`)
  }
  for (const k of Object.keys(router)) {
    if (
      ![
        "fallbacks",
        "model_group_alias",
        "num_retries",
        "timeout",
        "allowed_fails",
        "cooldown_time",
        "redis_host",
        "redis_port",
        "redis_password",
      ].includes(k)
    )
      report.push(
        k === "routing_strategy"
          ? `router_settings.routing_strategy: Sluice balances by weight over healthy deployments; "${String(router[k]).slice(0, 40)}" not imported`
          : `router_settings.${k}: no equivalent; dropped`,
      )
  }
  for (const k of Object.keys(lib)) {
    if (!["fallbacks", "num_retries", "request_timeout"].includes(k))
      report.push(
        k === "drop_params"
          ? "litellm_settings.drop_params: Sluice translates or refuses parameters per provider; not needed"
          : `litellm_settings.${k}: no equivalent; dropped`,
      )
  }
  return { config: out, report }
}
