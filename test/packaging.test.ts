/**
 * The packages as a user gets them: every workspace package is packed (`npm pack`) into a
 * directory outside the repository, a project there installs the tarballs (plus the Effect peers,
 * from the npm cache), type-checks a small custom gateway against the published `.d.ts` with
 * `strict` (library declarations checked too), compiles it and runs it with plain node, and the
 * openai SDK calls it. The installed `@sluice/gateway` must also work as `npx sluice`.
 *
 * The container's runtime stage is checked from the same build: deploy/check-dockerfile.mjs
 * --reuse-build replays deploy/Dockerfile without a daemon (the runtime files alone, no
 * node_modules, readable by a non-root user; its command, HEALTHCHECK and deploy/sluice.yaml with
 * Redis), taking this build for the `npm ci` and `npm run build` steps.
 *
 * It builds first (`npm run build`: turbo, cached; a cold build takes about a minute).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = Path.resolve(import.meta.dirname, "..")
const exec = promisify(execFile)

interface Pkg {
  readonly name: string
  readonly dir: string
  readonly json: {
    readonly name: string
    readonly private?: boolean
    readonly peerDependencies?: Record<string, string>
  }
}

const packages: ReadonlyArray<Pkg> = [
  ...Fs.readdirSync(Path.join(root, "packages")).map((d) => Path.join(root, "packages", d)),
  Path.join(root, "apps", "gateway"),
]
  .filter((dir) => Fs.existsSync(Path.join(dir, "package.json")))
  .map((dir) => {
    const json = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")) as Pkg["json"]
    return { name: json.name, dir, json }
  })
  .filter((p) => p.json.private !== true)

// Child processes get neither the test runner's settings (SLUICE_FROM_SOURCE would run the bin
// through tsx) nor the npm settings of the `npm test` that started the runner (workspace, prefix).
const keptNpm = new Set(["npm_config_cache", "npm_config_registry", "npm_config_userconfig"])
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) =>
      k !== "SLUICE_FROM_SOURCE" &&
      k !== "NODE_OPTIONS" &&
      k !== "INIT_CWD" &&
      !k.startsWith("VITEST") &&
      (!k.toLowerCase().startsWith("npm_") || keptNpm.has(k.toLowerCase())),
  ),
)

const run = async (cmd: string, args: ReadonlyArray<string>, cwd: string, timeout = 240_000) => {
  try {
    return await exec(cmd, [...args], { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 })
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`)
  }
}

/** The version of a package installed in the repository (so the consumer's peers come from the cache). */
const repoVersion = (name: string): string =>
  (JSON.parse(Fs.readFileSync(Path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string })
    .version

/** The runtime exports a package's src/index.ts declares (namespaces and values, not types). */
const declaredExports = (pkg: Pkg): Array<string> => {
  const src = Fs.readFileSync(Path.join(pkg.dir, "src", "index.ts"), "utf8")
  const names = [...src.matchAll(/^export \* as (\w+) from/gm)].map((m) => m[1]!)
  for (const m of src.matchAll(/^export \{([^}]*)\} from/gm))
    for (const item of m[1]!.split(",").map((s) => s.trim()))
      if (item !== "" && !item.startsWith("type ")) names.push(item.split(/\s+as\s+/).pop()!)
  return names.sort()
}

const consumerSources: Record<string, string> = {
  // A gateway assembled in code, with a middleware of this project's own.
  "src/gateway.ts": `import { Effect } from "effect"
import { Config, Gateway, Handler, Middleware, MockProvider } from "@sluice/core"
import type { MiddlewareSpec } from "@sluice/core"
import * as OpenAI from "@sluice/openai"
import { Errors } from "@sluice/schema"
import { App } from "@sluice/server"

// One model is refused, every answer is tagged.
const house: MiddlewareSpec = Middleware.of("house", (next) => (request) =>
  Handler.modelOf(request) === "off-limits"
    ? Effect.fail(new Errors.PermissionDenied({ message: "off-limits is not served here" }))
    : Effect.map(next(request), (response) => Handler.withHeaders(response, { "x-house": "packaged" })),
)

export const gateway = Effect.gen(function* () {
  const config = yield* Config.fromObject(
    {
      providers: { mock: { type: "mock" } },
      models: { house: { provider: "mock", model: "mock" }, "off-limits": { provider: "mock", model: "mock" } },
    },
    {},
  )
  const handler = yield* Gateway.make({ config, providerTypes: [MockProvider.providerType], middleware: [house] })
  return App.make({ ingresses: [OpenAI.Ingress.ingress], handler: () => handler, bodyLimit: 1024 * 1024 })
})
`,
  "src/main.ts": `import { HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { NodeServer } from "@sluice/server"
import { gateway } from "./gateway.js"

const serve = Layer.unwrapEffect(Effect.map(gateway, (app) => NodeServer.layer(app, { host: "127.0.0.1", port: 0 })))

Effect.gen(function* () {
  const server = yield* HttpServer.HttpServer
  const address = server.address
  if (address._tag === "TcpAddress") console.log(\`listening on \${address.port}\`)
  return yield* Effect.never
}).pipe(Effect.provide(serve), Effect.provide(NodeHttpClient.layerUndici), NodeRuntime.runMain)
`,
  // The declarations are real types, not any: each misuse is an error (unused @ts-expect-error fails).
  "src/types.ts": `import { Effect } from "effect"
import { Config } from "@sluice/core"
import type { ChatRequest } from "@sluice/schema"
import { NodeServer } from "@sluice/server"

export const badPort = (app: Parameters<typeof NodeServer.layer>[0]) =>
  // @ts-expect-error a port is a number
  NodeServer.layer(app, { port: "8787" })
// @ts-expect-error a chat request has messages, not a prompt
export const badChat: ChatRequest = { model: "house", prompt: "hello" }
export const port = Config.fromObject({}, {}).pipe(Effect.map((c) => c.server.port satisfies number))
`,
  // Every package, imported under plain node: prints each one's runtime exports.
  "src/all.ts": `${packages.map((p, i) => `import * as P${i} from "${p.name}"`).join("\n")}

const modules: Record<string, object> = { ${packages.map((p, i) => `"${p.name}": P${i}`).join(", ")} }
console.log(JSON.stringify(Object.fromEntries(Object.entries(modules).map(([n, m]) => [n, Object.keys(m).sort()]))))
`,
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      types: ["node"],
      strict: true,
      skipLibCheck: false,
      outDir: "dist",
      rootDir: "src",
    },
    include: ["src"],
  }),
}

/** Spawns `node args…` in the project and resolves once it prints a line matching `ready`. */
const startProcess = (args: ReadonlyArray<string>, cwd: string, ready: RegExp) => {
  const child = spawn(process.execPath, [...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
  const started = new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not start:\n${out}`)), 60_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const m = ready.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m)
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`${args.join(" ")} exited with ${code}:\n${out}`))
    })
  })
  return { child, started, exited, output: () => out }
}

const stop = async (child: ChildProcess, exited: Promise<number | null>) => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
  const code = await exited
  clearTimeout(timer)
  return code
}

beforeAll(async () => {
  await run("npm", ["run", "-s", "build"], root, 400_000)
}, 600_000)

describe("packages installed from their tarballs in a project outside the repository", () => {
  let dir: string
  let compiled: Awaited<ReturnType<typeof run>> | undefined

  beforeAll(async () => {
    dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-consumer-"))
    const packed = JSON.parse(
      (
        await run(
          "npm",
          ["pack", "--json", "--pack-destination", dir, ...packages.flatMap((p) => ["-w", p.name])],
          root,
        )
      ).stdout,
    ) as Array<{ name: string; filename: string }>
    expect(packed.map((p) => p.name).sort()).toEqual(packages.map((p) => p.name).sort())

    // The tarballs, and the peers a user adds (the versions the repository tested, so they are
    // in the npm cache), plus the types a strict check of their declarations needs.
    const peers = new Set(packages.flatMap((p) => Object.keys(p.json.peerDependencies ?? {})))
    const dependencies: Record<string, string> = {}
    for (const p of packed) dependencies[p.name] = `file:./${Path.basename(p.filename)}`
    for (const name of [...peers, "@types/node", "@types/pg"]) dependencies[name] = repoVersion(name)
    Fs.writeFileSync(
      Path.join(dir, "package.json"),
      JSON.stringify({ name: "sluice-consumer", private: true, type: "module", dependencies }, null, 2),
    )
    const install = ["install", "--no-audit", "--no-fund", "--loglevel=error"]
    await run("npm", [...install, "--offline"], dir).catch(() => run("npm", [...install, "--prefer-offline"], dir))

    for (const [file, text] of Object.entries(consumerSources)) {
      Fs.mkdirSync(Path.dirname(Path.join(dir, file)), { recursive: true })
      Fs.writeFileSync(Path.join(dir, file), text)
    }
    compiled = await run(process.execPath, [Path.join(root, "node_modules/typescript/bin/tsc"), "-p", "."], dir)
  }, 600_000)

  afterAll(async () => {
    if (dir !== undefined) await Fs.promises.rm(dir, { recursive: true, force: true })
  }, 300_000)

  it("installs every package without the repository: no workspace links, no sources run", () => {
    for (const p of packages) {
      const installed = Path.join(dir, "node_modules", p.name)
      expect(Fs.lstatSync(installed).isSymbolicLink(), p.name).toBe(false)
      const json = JSON.parse(Fs.readFileSync(Path.join(installed, "package.json"), "utf8"))
      expect(Fs.existsSync(Path.join(installed, json.exports["."].import)), p.name).toBe(true)
      expect(Fs.existsSync(Path.join(installed, json.exports["."].types)), p.name).toBe(true)
      expect(Fs.existsSync(Path.join(installed, "README.md")), p.name).toBe(true)
      expect(Fs.existsSync(Path.join(installed, "LICENSE")), p.name).toBe(true)
      expect(Fs.existsSync(Path.join(installed, "dist", ".tsbuildinfo")), p.name).toBe(false)
    }
  })

  it("type-checks a custom gateway against the published declarations (strict, library checks on)", () => {
    expect(compiled?.stdout.trim()).toBe("")
    expect(Fs.existsSync(Path.join(dir, "dist", "main.js"))).toBe(true)
  })

  it("imports every package under plain node, with the exports its sources declare", async () => {
    const { stdout } = await run(process.execPath, ["dist/all.js"], dir)
    const exports = JSON.parse(stdout) as Record<string, Array<string>>
    for (const p of packages) {
      expect(exports[p.name], p.name).toEqual(declaredExports(p))
      expect(exports[p.name]!.length, p.name).toBeGreaterThan(0)
    }
  })

  it("runs the custom gateway with plain node and answers the openai SDK", async () => {
    const proc = startProcess(["dist/main.js"], dir, /listening on (\d+)/)
    try {
      const port = (await proc.started)[1]
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 })

      const { data, response } = await client.chat.completions
        .create({ model: "house", messages: [{ role: "user", content: "hello from outside" }] })
        .withResponse()
      expect(data.choices[0]?.message.content).toBe("echo: hello from outside")
      expect(response.headers.get("x-house")).toBe("packaged")

      const stream = await client.chat.completions.create({
        model: "house",
        messages: [{ role: "user", content: "streamed from outside" }],
        stream: true,
      })
      let text = ""
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
      expect(text).toBe("echo: streamed from outside")

      const refused = await client.chat.completions
        .create({ model: "off-limits", messages: [{ role: "user", content: "hi" }] })
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError)
      expect((refused as InstanceType<typeof OpenAI.PermissionDeniedError>).message).toContain("off-limits")
    } finally {
      await stop(proc.child, proc.exited)
    }
  })

  it("runs `npx sluice` from the installed @sluice/gateway: --help, and start on the default config", async () => {
    const help = await run("npx", ["--no", "--", "sluice", "--help"], dir, 60_000)
    for (const command of ["start", "validate", "init", "routes"]) expect(help.stdout).toContain(command)

    const bin = Path.join(dir, "node_modules", "@sluice", "gateway", "bin", "sluice.mjs")
    const proc = startProcess(
      [bin, "start", "--host", "127.0.0.1", "--port", "0"],
      dir,
      /sluice listening on (http:\/\/[\d.]+:\d+)/,
    )
    try {
      const url = (await proc.started)[1]!
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" })
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 })
      const answer = await client.chat.completions.create({
        model: "mock",
        messages: [{ role: "user", content: "hello installed gateway" }],
      })
      expect(answer.choices[0]?.message.content).toBe("echo: hello installed gateway")
    } finally {
      expect(await stop(proc.child, proc.exited)).toBe(0)
    }
  })
})

describe("deploy/Dockerfile without a container daemon", () => {
  it("runs the runtime stage from this build: default command, HEALTHCHECK, the deploy config with Redis", async () => {
    const { stdout } = await run(process.execPath, ["deploy/check-dockerfile.mjs", "--reuse-build"], root, 180_000)
    expect(stdout).toContain("all readable by a non-root user")
    expect(stdout).toContain("HEALTHCHECK passes")
    expect(stdout).toContain("default command: /healthz and the mock model answer")
    expect(stdout).toContain("a request without a key refused, the virtual key's chat answered")
    expect(stdout).toContain("SIGTERM: drained and exited 0")
  }, 200_000)
})
