/**
 * The console's browser code, bundled with esbuild (preact + uPlot, minified, no CDN). The
 * package's `build` script writes it to dist/; without dist/ the gateway bundles it once on
 * first use (development, tests) and keeps it in memory.
 */
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

export interface Assets {
  readonly js: string
  readonly css: string
}

const require = createRequire(import.meta.url)

export const bundle = async (): Promise<Assets> => {
  const esbuild = await import("esbuild")
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("./ui/main.ts", import.meta.url))],
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2020",
    write: false,
    legalComments: "none",
  })
  const js = result.outputFiles[0]!.text
  const css = await readFile(require.resolve("uplot/dist/uPlot.min.css"), "utf8")
  return { js, css }
}

let cached: Promise<Assets> | undefined

/** dist/ when built, else a bundle made now (once per process). */
export const assets = (): Promise<Assets> => {
  if (cached === undefined) {
    cached = Promise.all([
      readFile(new URL("../dist/app.js", import.meta.url), "utf8"),
      readFile(new URL("../dist/app.css", import.meta.url), "utf8"),
    ])
      .then(([js, css]) => ({ js, css }))
      .catch(() => bundle())
    cached.catch(() => {
      cached = undefined
    })
  }
  return cached
}
