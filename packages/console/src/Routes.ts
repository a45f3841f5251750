/**
 * The console's HTTP side: the page and its bundle under `/admin/ui` (public — they hold no
 * data; every call the page makes needs the admin key), and behind the admin key the effective
 * config (`GET /admin/config`, secrets masked) and the live tail of the request log
 * (`GET /admin/tail`, server-sent events, one `data:` JSON row per request).
 */
import { HttpServerResponse } from "@effect/platform"
import { AdminGuard } from "@sluice/auth"
import type { Config, Ingress } from "@sluice/core"
import type { RequestLog } from "@sluice/postgres"
import { Effect, Stream } from "effect"
import * as Bundle from "./Bundle.ts"
import * as Mask from "./Mask.ts"

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sluice console</title><link rel="stylesheet" href="/admin/ui/app.css"></head>
<body><div id="app"></div><script src="/admin/ui/app.js"></script></body></html>`

const style = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#111;background:#f7f7f8}
nav{display:flex;gap:.5rem;align-items:center;padding:.6rem 1rem;background:#111;color:#fff}
nav button{background:none;border:0;color:#ccc;cursor:pointer;padding:.3rem .6rem;text-transform:capitalize}
nav button.active{color:#fff;border-bottom:2px solid #60a5fa}.signout{margin-left:auto}
main{padding:1rem 1.5rem}section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:1rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%;margin-top:.5rem}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;font-size:13px}
th{color:#555;font-weight:600}.row{display:flex;gap:.5rem;flex-wrap:wrap}input{padding:.35rem .5rem;border:1px solid #ccc;border-radius:4px}
button{padding:.35rem .7rem;border:1px solid #999;border-radius:4px;background:#fff;cursor:pointer;margin-right:.3rem}
button.danger{border-color:#dc2626;color:#dc2626}.error,.bad{color:#dc2626}
.secret{background:#fefce8;border:1px solid #facc15;padding:.6rem;margin:.6rem 0;border-radius:6px}.secret code{font-size:15px;user-select:all}
.login{max-width:320px;margin:15vh auto;display:flex;flex-direction:column;gap:.7rem;background:#fff;padding:1.5rem;border-radius:8px;border:1px solid #e5e7eb}
.login label{display:flex;flex-direction:column;gap:.3rem}pre{font-size:12px;overflow:auto;max-height:70vh}.chart{margin:.5rem 0}
`

const denied = HttpServerResponse.unsafeJson(
  { error: { type: "authentication_error", message: "missing or invalid admin key" } },
  { status: 401 },
)

export const routes = (options: {
  readonly config: Config.GatewayConfig
  readonly adminKeyHash: string
  /** Where new request-log rows are announced; undefined without a database. */
  readonly tail: Set<(row: RequestLog.Row) => void> | undefined
}): ReadonlyArray<Ingress.PlainRoute> => {
  const authorized = AdminGuard.make(options.adminKeyHash)
  const assets = Effect.promise(() => Bundle.assets())
  const tail = options.tail
  return [
    {
      method: "GET",
      path: "/admin/ui",
      handle: () =>
        Effect.succeed(
          HttpServerResponse.html(page).pipe(
            HttpServerResponse.setHeaders({
              "content-security-policy":
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
              "x-content-type-options": "nosniff",
              "cache-control": "no-store",
            }),
          ),
        ),
    },
    {
      method: "GET",
      path: "/admin/ui/app.js",
      handle: () =>
        Effect.map(assets, (a) => HttpServerResponse.text(a.js, { contentType: "text/javascript; charset=utf-8" })),
    },
    {
      method: "GET",
      path: "/admin/ui/app.css",
      handle: () =>
        Effect.map(assets, (a) => HttpServerResponse.text(a.css + style, { contentType: "text/css; charset=utf-8" })),
    },
    {
      method: "GET",
      path: "/admin/config",
      handle: (request) =>
        Effect.succeed(
          authorized(request.headers) ? HttpServerResponse.unsafeJson(Mask.masked(options.config)) : denied,
        ),
    },
    {
      method: "GET",
      path: "/admin/tail",
      handle: (request) => {
        if (!authorized(request.headers)) return Effect.succeed(denied)
        if (tail === undefined)
          return Effect.succeed(
            HttpServerResponse.unsafeJson(
              { error: { type: "not_found_error", message: "the live tail needs a database: section" } },
              { status: 404 },
            ),
          )
        const events = Stream.async<string>((emit) => {
          const listener = (row: RequestLog.Row) => {
            const { prompt: _prompt, ...shown } = row
            void emit.single(`data: ${JSON.stringify({ ...shown, time: row.time.toISOString() })}\n\n`)
          }
          tail.add(listener)
          void emit.single(": live\n\n")
          return Effect.sync(() => tail.delete(listener))
        }, 1_000).pipe(
          // A comment every 15 s keeps proxies from closing an idle tail.
          Stream.merge(Stream.tick("15 seconds").pipe(Stream.map(() => ": ping\n\n"))),
          Stream.encodeText,
        )
        return Effect.succeed(
          HttpServerResponse.stream(events, {
            contentType: "text/event-stream",
            headers: { "cache-control": "no-cache", "x-accel-buffering": "no" },
          }),
        )
      },
    },
  ]
}
