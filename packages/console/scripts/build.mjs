// Bundle the console into dist/ (what the package serves when present).
import { mkdir, writeFile } from "node:fs/promises"
import { bundle } from "../src/Bundle.ts"

const { js, css } = await bundle()
await mkdir(new URL("../dist/", import.meta.url), { recursive: true })
await writeFile(new URL("../dist/app.js", import.meta.url), js)
await writeFile(new URL("../dist/app.css", import.meta.url), css)
console.log(`console: dist/app.js ${js.length} bytes, dist/app.css ${css.length} bytes`)
