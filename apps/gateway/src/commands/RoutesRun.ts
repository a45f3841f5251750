/** What `sluice routes` runs (loaded when the command runs, not for `--help`). */
import { Console, Effect, Either, type Option } from "effect"
import { type Config, Router } from "@sluice/core"
import * as ConfigFile from "./ConfigFile.ts"

const ms = (n: number | undefined) => (n === undefined ? "-" : n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`)

export const describe = (config: Config.GatewayConfig, model: string): string => {
  const resolved = Router.make(config).resolve(model)
  if (Either.isLeft(resolved)) return `${model}: not routed (${resolved.left.message})`
  const r = resolved.right
  const lines = [
    `${model}: ${r.rule ? `routes[${r.rule.index}] (match "${r.rule.match}")` : "no routes: rule; resolved directly"}`,
  ]
  r.candidates.forEach((c, i) => {
    const deployments = c.deployments.map(
      (d) => `${d.provider}/${d.model}${c.deployments.length > 1 ? ` (weight ${d.weight})` : ""}`,
    )
    lines.push(`  ${i === 0 ? "target  " : `fallback${i}`} ${c.id} -> ${deployments.join(", ")}`)
  })
  const retry = { ...config.resilience.retry, ...r.retry }
  const timeout = { ...config.resilience.timeout, ...r.timeout }
  lines.push(`  retry    ${retry.attempts} attempt(s), backoff ${ms(retry.backoff)} up to ${ms(retry.maxBackoff)}`)
  lines.push(
    `  timeout  connect ${ms(timeout.connect)}, first byte ${ms(timeout.firstByte)}, total ${ms(timeout.total)}`,
  )
  return lines.join("\n")
}

export const run = ({ config: file, model }: { readonly config: Option.Option<string>; readonly model: string }) =>
  Effect.flatMap(ConfigFile.read(file), (config) => Console.log(describe(config, model)))
