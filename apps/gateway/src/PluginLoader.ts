/**
 * Plugins a config names under `plugins:`, loaded when the config is read: a path (relative to
 * the config file, `./` or `../` or absolute) or a package name (resolved from the config file's
 * directory, then from the gateway's own). A module exports its plugin as `plugin`, as its default
 * export, or several as `plugins`. Node caches modules: editing a plugin's code needs a restart,
 * while its config section reloads like any other.
 */
import { createRequire } from "node:module"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { Config, Middleware } from "@sluice/core"

const isPath = (spec: string) => spec.startsWith("./") || spec.startsWith("../") || Path.isAbsolute(spec)

/** The module's URL, or the bare name when only the gateway's own resolution can find it. */
const locate = (spec: string, baseDir: string): string => {
  if (isPath(spec)) return pathToFileURL(Path.resolve(baseDir, spec)).href
  try {
    return pathToFileURL(createRequire(Path.join(baseDir, "sluice.config")).resolve(spec)).href
  } catch {
    return spec
  }
}

const pluginsIn = (module: Record<string, unknown>): ReadonlyArray<Middleware.AnyPlugin> | undefined => {
  const candidates = [module.plugin, module.default, ...(Array.isArray(module.plugins) ? module.plugins : [])]
  const found = candidates.filter(Middleware.isPlugin)
  return found.length > 0 ? [...new Set(found)] : undefined
}

/** Load every plugin; failures name the `plugins[i]` entry (the operator's own config, so it is echoed). */
export const load = (
  specs: ReadonlyArray<string>,
  baseDir: string,
): Effect.Effect<ReadonlyArray<Middleware.AnyPlugin>, Config.ConfigError> =>
  Effect.gen(function* () {
    const loaded: Array<Middleware.AnyPlugin> = []
    const issues: Array<Config.ConfigIssue> = []
    for (const [i, spec] of specs.entries()) {
      const path = `plugins[${i}]`
      const module = yield* Effect.tryPromise(
        () => import(locate(spec, baseDir)) as Promise<Record<string, unknown>>,
      ).pipe(Effect.either)
      if (module._tag === "Left") {
        const cause = module.left.error as { code?: string; message?: string }
        issues.push({
          path,
          message: `cannot load "${spec}": ${cause.code ?? cause.message?.split("\n")[0] ?? "failed"}`,
        })
        continue
      }
      const plugins = pluginsIn(module.right)
      if (plugins === undefined)
        issues.push({
          path,
          message: `"${spec}" exports no plugin (expected an export named plugin or plugins, or a default export)`,
        })
      else loaded.push(...plugins)
    }
    const names = new Map<string, number>()
    for (const p of loaded) names.set(p.name, (names.get(p.name) ?? 0) + 1)
    for (const [name, count] of names)
      if (count > 1) issues.push({ path: "plugins", message: `two loaded plugins are both named "${name}"` })
    return issues.length > 0 ? yield* Effect.fail(new Config.ConfigError({ issues })) : loaded
  })
