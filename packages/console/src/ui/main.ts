/**
 * The admin console in the browser: a login form for the admin key (kept in sessionStorage),
 * then keys, usage charts, the request log, a live tail and the effective config — every call
 * to the gateway's /admin API with the key as a bearer token.
 */
import { h, render } from "preact"
import { useEffect, useRef, useState } from "preact/hooks"
import uPlot from "uplot"

type Json = Record<string, any>
const storageKey = "sluice.adminKey"

const api = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: Json }> => {
  const key = sessionStorage.getItem(storageKey) ?? ""
  const res = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(init.headers ?? {}) },
  })
  const text = await res.text()
  let body: Json = {}
  try {
    body = text === "" ? {} : JSON.parse(text)
  } catch {
    body = { error: { message: text.slice(0, 200) } }
  }
  return { status: res.status, body }
}

const usd = (n: number | null | undefined) => (n === null || n === undefined ? "—" : `$${n.toFixed(6)}`)

function Login(props: { onLogin: () => void }) {
  const [error, setError] = useState("")
  const submit = async (e: Event) => {
    e.preventDefault()
    const input = (e.target as HTMLFormElement).elements.namedItem("key") as HTMLInputElement
    sessionStorage.setItem(storageKey, input.value)
    const r = await api("/admin/keys")
    if (r.status === 200) props.onLogin()
    else {
      sessionStorage.removeItem(storageKey)
      setError(r.status === 401 ? "That is not the admin key." : `The gateway answered ${r.status}.`)
    }
  }
  return h(
    "form",
    { class: "login", onSubmit: submit },
    h("h1", null, "Sluice console"),
    h("label", null, "Admin key", h("input", { name: "key", type: "password", autocomplete: "off", required: true })),
    h("button", { type: "submit" }, "Sign in"),
    error && h("p", { class: "error", role: "alert" }, error),
  )
}

function Keys() {
  const [keys, setKeys] = useState<Array<Json>>([])
  const [secret, setSecret] = useState<{ name: string; key: string } | undefined>()
  const [error, setError] = useState("")
  const load = async () => setKeys((await api("/admin/keys")).body.keys ?? [])
  useEffect(() => {
    void load()
  }, [])
  const create = async (e: Event) => {
    e.preventDefault()
    const form = e.target as HTMLFormElement
    const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim()
    const body: Json = { name: v("name") }
    if (v("models") !== "")
      body.models = v("models")
        .split(",")
        .map((s) => s.trim())
    if (v("rpm") !== "") body.rateLimit = { rpm: Number(v("rpm")) }
    if (v("budget") !== "") body.budget = { usd: Number(v("budget")), period: "monthly" }
    const r = await api("/admin/keys", { method: "POST", body: JSON.stringify(body) })
    if (r.status === 201) {
      setSecret({ name: r.body.name, key: r.body.key })
      setError("")
      form.reset()
    } else setError(r.body.error?.message ?? `error ${r.status}`)
    await load()
  }
  const act = async (id: string, action: "revoke" | "rotate") => {
    if (action === "revoke" && !confirm(`Revoke ${id}?`)) return
    const r = await api(`/admin/keys/${encodeURIComponent(id)}/${action}`, { method: "POST" })
    if (action === "rotate" && r.status === 200) setSecret({ name: r.body.name, key: r.body.key })
    if (r.status >= 400) setError(r.body.error?.message ?? `error ${r.status}`)
    await load()
  }
  return h(
    "section",
    null,
    h("h2", null, "Keys"),
    h(
      "form",
      { class: "row", onSubmit: create },
      h("input", { name: "name", placeholder: "name", required: true }),
      h("input", { name: "models", placeholder: "models (gpt-4o*, …)" }),
      h("input", { name: "rpm", placeholder: "rpm", type: "number", min: 1 }),
      h("input", { name: "budget", placeholder: "budget USD / month", type: "number", min: 0, step: "any" }),
      h("button", { type: "submit" }, "Create key"),
    ),
    error && h("p", { class: "error", role: "alert" }, error),
    secret &&
      h(
        "div",
        { class: "secret", "data-testid": "secret" },
        h("p", null, `The key for ${secret.name} — shown once, copy it now:`),
        h("code", null, secret.key),
        h("button", { onClick: () => setSecret(undefined) }, "Done"),
      ),
    h(
      "table",
      null,
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ...["id", "name", "hint", "models", "limits", "budget", "state", ""].map((c) => h("th", null, c)),
        ),
      ),
      h(
        "tbody",
        null,
        ...keys.map((k) =>
          h(
            "tr",
            { "data-key": k.name },
            h("td", null, k.id),
            h("td", null, k.name),
            h("td", null, k.hint ?? ""),
            h("td", null, (k.models ?? ["*"]).join(", ")),
            h("td", null, k.rateLimit ? `${k.rateLimit.rpm ?? "–"} rpm / ${k.rateLimit.tpm ?? "–"} tpm` : ""),
            h("td", null, k.budget ? `$${k.budget.usd} ${k.budget.period}` : ""),
            h("td", { class: "state" }, k.revokedAt ? "revoked" : k.enabled ? "active" : "disabled"),
            h(
              "td",
              null,
              k.source === "store" && !k.revokedAt
                ? [
                    h("button", { onClick: () => act(k.id, "rotate") }, "Rotate"),
                    h("button", { class: "danger", onClick: () => act(k.id, "revoke") }, "Revoke"),
                  ]
                : k.source === "config"
                  ? "config file"
                  : "",
            ),
          ),
        ),
      ),
    ),
  )
}

function Chart(props: { title: string; days: Array<string>; series: Record<string, Array<number>> }) {
  const el = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (el.current === null || props.days.length === 0) return
    const names = Object.keys(props.series)
    const xs = props.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000)
    const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"]
    const plot = new uPlot(
      {
        title: props.title,
        width: Math.min(900, el.current.clientWidth || 900),
        height: 220,
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: palette[i % palette.length]!, width: 2 }))],
        axes: [{}, {}],
      },
      [xs, ...names.map((n) => props.series[n]!)],
      el.current,
    )
    return () => plot.destroy()
  }, [props.days.join(), JSON.stringify(props.series)])
  return h("div", { ref: el, class: "chart" })
}

function Usage() {
  const [rows, setRows] = useState<Array<Json>>([])
  const [status, setStatus] = useState(0)
  useEffect(() => {
    void api("/admin/usage/daily?days=30").then((r) => {
      setStatus(r.status)
      setRows(r.body.data ?? [])
    })
  }, [])
  if (status === 404)
    return h("section", null, h("h2", null, "Usage"), h("p", null, "Usage needs a database: section."))
  // Every day of the window (days without requests are zero), so the axis spans the month.
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate())
  const days = Array.from({ length: 30 }, (_, i) => new Date(today - (29 - i) * 86_400_000).toISOString().slice(0, 10))
  const by = (field: "key" | "model", metric: string) => {
    const out: Record<string, Array<number>> = {}
    for (const r of rows) {
      const name = String(r[field] ?? "(none)")
      out[name] ??= days.map(() => 0)
      const at = days.indexOf(r.day)
      if (at >= 0) out[name]![at]! += Number(r[metric] ?? 0)
    }
    return out
  }
  return h(
    "section",
    null,
    h("h2", null, "Usage (last 30 days, UTC)"),
    rows.length === 0
      ? h("p", null, "No requests yet.")
      : [
          h(Chart, { title: "Cost by key (USD)", days, series: by("key", "costUsd") }),
          h(Chart, { title: "Requests by model", days, series: by("model", "requests") }),
        ],
  )
}

const logColumns = ["time", "key", "model", "served by", "status", "tokens in/out", "cost", "latency", "cache", "error"]
const logRow = (r: Json) =>
  h(
    "tr",
    { "data-request": r.requestId },
    h("td", null, new Date(r.time).toLocaleTimeString()),
    h("td", null, r.keyName ?? r.keyId ?? "—"),
    h("td", null, r.modelRequested ?? "—"),
    h("td", null, r.provider ? `${r.provider}/${r.modelServed ?? ""}` : (r.modelServed ?? "—")),
    h("td", { class: r.status >= 400 ? "bad" : "" }, r.status),
    h("td", null, `${r.inputTokens ?? "—"} / ${r.outputTokens ?? "—"}`),
    h("td", { class: "cost" }, usd(r.costUsd)),
    h("td", null, `${r.latencyMs} ms`),
    h("td", null, r.cacheHit ? "hit" : ""),
    h("td", null, r.errorClass ?? ""),
  )

function Requests() {
  const [rows, setRows] = useState<Array<Json>>([])
  const [filters, setFilters] = useState({ key: "", model: "", status: "" })
  const [error, setError] = useState("")
  const load = async () => {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== ""))
    const r = await api(`/admin/requests?${q}`)
    if (r.status === 200) {
      setRows(r.body.data)
      setError("")
    } else setError(r.body.error?.message ?? `error ${r.status}`)
  }
  useEffect(() => {
    void load()
  }, [filters])
  const field = (name: keyof typeof filters, placeholder: string) =>
    h("input", {
      name,
      placeholder,
      value: filters[name],
      onChange: (e: Event) => setFilters({ ...filters, [name]: (e.target as HTMLInputElement).value }),
    })
  return h(
    "section",
    null,
    h("h2", null, "Request log"),
    h(
      "div",
      { class: "row" },
      field("key", "key"),
      field("model", "model"),
      field("status", "status"),
      h("button", { onClick: load }, "Refresh"),
    ),
    error && h("p", { class: "error" }, error),
    h(
      "table",
      { "data-testid": "requests" },
      h("thead", null, h("tr", null, ...logColumns.map((c) => h("th", null, c)))),
      h("tbody", null, ...rows.map(logRow)),
    ),
  )
}

function Tail() {
  const [rows, setRows] = useState<Array<Json>>([])
  const [state, setState] = useState("connecting")
  useEffect(() => {
    const abort = new AbortController()
    const run = async () => {
      const key = sessionStorage.getItem(storageKey) ?? ""
      const res = await fetch("/admin/tail", { headers: { authorization: `Bearer ${key}` }, signal: abort.signal })
      if (!res.ok || res.body === null) return setState(`unavailable (${res.status})`)
      setState("live")
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ""
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let at = buffer.indexOf("\n\n")
        while (at >= 0) {
          const frame = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          const data = frame
            .split("\n")
            .filter((l) => l.startsWith("data: "))
            .map((l) => l.slice(6))
            .join("\n")
          if (data !== "") {
            const row = JSON.parse(data)
            setRows((rs) => [row, ...rs].slice(0, 200))
          }
          at = buffer.indexOf("\n\n")
        }
      }
      setState("closed")
    }
    run().catch(() => setState("closed"))
    return () => abort.abort()
  }, [])
  return h(
    "section",
    null,
    h("h2", null, "Live tail ", h("small", { "data-testid": "tail-state" }, state)),
    h(
      "table",
      { "data-testid": "tail" },
      h("thead", null, h("tr", null, ...logColumns.map((c) => h("th", null, c)))),
      h("tbody", null, ...rows.map(logRow)),
    ),
  )
}

function ConfigView() {
  const [config, setConfig] = useState<Json | undefined>()
  useEffect(() => {
    void api("/admin/config").then((r) => setConfig(r.body))
  }, [])
  return h(
    "section",
    null,
    h("h2", null, "Effective config (secrets masked)"),
    h("pre", { "data-testid": "config" }, config === undefined ? "…" : JSON.stringify(config, null, 2)),
  )
}

const tabs = { keys: Keys, usage: Usage, requests: Requests, tail: Tail, config: ConfigView } as const
type Tab = keyof typeof tabs

function App() {
  const [signedIn, setSignedIn] = useState(sessionStorage.getItem(storageKey) !== null)
  const [tab, setTab] = useState<Tab>("keys")
  if (!signedIn) return h(Login, { onLogin: () => setSignedIn(true) })
  return h(
    "div",
    null,
    h(
      "nav",
      null,
      h("strong", null, "Sluice"),
      ...(Object.keys(tabs) as Array<Tab>).map((t) =>
        h("button", { class: t === tab ? "active" : "", onClick: () => setTab(t), "data-tab": t }, t),
      ),
      h(
        "button",
        {
          class: "signout",
          onClick: () => {
            sessionStorage.removeItem(storageKey)
            setSignedIn(false)
          },
        },
        "Sign out",
      ),
    ),
    h("main", null, h(tabs[tab], {})),
  )
}

render(h(App, {}), document.getElementById("app")!)
