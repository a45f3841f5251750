#!/usr/bin/env node
// The `sluice` command: runs the bundled gateway (dist/cli, built by bundle.mjs) under plain node.
// In a checkout, SLUICE_FROM_SOURCE=1 runs the TypeScript sources instead (tsx, with the workspace
// packages resolved through their `@sluice/source` export condition) — what the tests do, so
// they never need a build.
if (process.env.SLUICE_FROM_SOURCE === "1") {
  const { register } = await import("node:module")
  const addCondition = `export const resolve = (specifier, context, next) =>
    next(specifier, { ...context, conditions: ["@sluice/source", ...context.conditions] })`
  register(`data:text/javascript,${encodeURIComponent(addCondition)}`)
  const tsx = await import("tsx/esm/api")
  tsx.register()
  await import("../src/main.ts")
} else {
  const main = new URL("../dist/cli/sluice.mjs", import.meta.url)
  try {
    await import(main.href)
  } catch (e) {
    if (e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes(main.pathname)) {
      console.error("sluice: the gateway is not built yet; run `npm run build` at the repository root")
      process.exit(1)
    }
    throw e
  }
}
