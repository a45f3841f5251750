// Bundles the `sluice` command into dist/cli (esbuild, ESM, split into chunks so what a
// command or config does not use — the OTel SDK, the tokenizer, database and Redis clients —
// is only read from disk when it is imported). Plain node loads the bundle several times faster
// than the same code as hundreds of separate modules.
import * as Fs from "node:fs"
import { build } from "esbuild"

const here = new URL(".", import.meta.url).pathname

// These ES-module libraries define things at import and do nothing else, but do not say so in their
// package.json; without this a package index that re-exports a module using them would pull
// them into the start-up chunk even when only a dynamic import() uses them.
const sideEffectFree =
  /node_modules\/(@opentelemetry\/|@effect\/opentelemetry\/|@effect\/sql|@effect\/experimental\/|js-tiktoken\/|smol-toml\/)/
const markSideEffectFree = {
  name: "side-effect-free",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === "inner" || args.path.startsWith("node:")) return undefined
      const { path, resolveDir, ...rest } = args
      const r = await b.resolve(path, { ...rest, resolveDir, pluginData: "inner" })
      return r.errors.length > 0 || !sideEffectFree.test(r.path) ? undefined : { ...r, sideEffects: false }
    })
  },
}

Fs.rmSync(`${here}dist/cli`, { recursive: true, force: true })
const result = await build({
  entryPoints: { sluice: `${here}src/main.ts` },
  outdir: `${here}dist/cli`,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Workspace packages from their sources, as in the dev loop.
  conditions: ["@sluice/source"],
  // ES module builds where a package has both: they tree-shake, CommonJS does not.
  mainFields: ["module", "main"],
  // Whitespace and syntax minified (stack traces map back through the source maps, node
  // --enable-source-maps); SLUICE_BUNDLE_MINIFY=0 keeps it readable (profiles). Identifiers are
  // not: then functions and classes keep their names (a dependency may read `constructor.name`)
  // without `keepNames`, whose `__name(fn, "…")` around every closure made at run time cost
  // ~7 % of a request's CPU, and ~28 KB of property storage per open stream.
  minifyWhitespace: process.env.SLUICE_BUNDLE_MINIFY !== "0",
  minifySyntax: process.env.SLUICE_BUNDLE_MINIFY !== "0",
  minifyIdentifiers: false,
  keepNames: false,
  sourcemap: true,
  legalComments: "linked",
  chunkNames: "chunks/[name]-[hash]",
  // CommonJS dependencies bundled into ESM call require() for Node built-ins.
  banner: {
    js: 'import { createRequire as __sluiceRequire } from "node:module";\nconst require = __sluiceRequire(import.meta.url);',
  },
  plugins: [markSideEffectFree],
  // Only the admin console's development fallback uses it (the built console ships its assets).
  external: ["esbuild"],
  metafile: true,
  logLevel: "warning",
})

// The admin console reads its browser assets from ../dist/ next to its own module: put the ones
// its package build wrote next to whichever chunk holds that module.
const consoleDist = `${here}../../packages/console/dist/`
const holder = Object.entries(result.metafile.outputs).find(([, o]) =>
  Object.keys(o.inputs).some((i) => i.endsWith("packages/console/src/Bundle.ts")),
)
if (holder !== undefined && Fs.existsSync(`${consoleDist}app.js`)) {
  const target = new URL("../dist/", new URL(holder[0], `file://${process.cwd()}/`))
  Fs.mkdirSync(target, { recursive: true })
  for (const f of ["app.js", "app.css"]) Fs.copyFileSync(`${consoleDist}${f}`, new URL(f, target))
}
