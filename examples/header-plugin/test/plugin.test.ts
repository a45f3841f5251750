/**
 * The plugin alone against a stub handler, then as `sluice start` runs it: loaded from the
 * config's `plugins:` list (a path relative to the config file), its section validated by its
 * own schema, unknown sections still refused.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Either } from "effect"
import { describe, expect, it, vi } from "vitest"
import { Stub } from "@sluice/testing"
import { startSluice } from "../../../test/support/sluice-process.ts"
import { KeyPolicy } from "@sluice/core"
import { keyHeaders, middleware } from "../src/plugin.ts"

// Each test starts the real `sluice` from sources: slow to boot on a busy machine.
vi.setConfig({ testTimeout: 120_000 })

const root = Path.resolve(import.meta.dirname, "../../..")
const pluginFile = Path.resolve(import.meta.dirname, "../src/plugin.ts")

describe("the headers middleware alone", () => {
  it("adds headers to answers and refuses requests without the required header", async () => {
    const stub = Stub.stub()
    const handler = middleware({ add: { "x-served-by": "edge-1" }, require: "x-team" })(stub.handler)
    const ok = await Effect.runPromise(handler(Stub.chat({}, { headers: { "x-team": "search" } })))
    expect(ok.headers["x-served-by"]).toBe("edge-1")
    const refused = await Effect.runPromise(Effect.either(handler(Stub.chat())))
    expect(Either.isLeft(refused) && refused.left).toMatchObject({ _tag: "InvalidRequest" })
    expect(stub.calls).toHaveLength(1)
  })

  it("adds a key's own headers, decoded once by its schema when the key was loaded", async () => {
    const decoded = KeyPolicy.decoder(undefined, [keyHeaders]).decode({ headers: { "x-team": "search" } })
    if (Either.isLeft(decoded)) throw new Error("expected the key's headers to decode")
    const principal = { id: "k", name: "k", policy: decoded.right }
    const handler = middleware({ add: { "x-served-by": "edge-1" } })(Stub.stub().handler)
    const r = await Effect.runPromise(handler(Stub.chat({}, { principal })))
    expect(r.headers).toMatchObject({ "x-served-by": "edge-1", "x-team": "search" })
    const bad = KeyPolicy.decoder(undefined, [keyHeaders]).decode({ headers: { "X Bad": "v" } })
    expect(Either.isLeft(bad) && bad.left[0]!.path).toBe("headers.X Bad")
  })
})

describe("loaded by sluice from the config", () => {
  const yaml = (plugin: string, headers: string) =>
    [
      `plugins: ["${plugin}"]`,
      "providers: { mock: { type: mock } }",
      "models: { mock: { provider: mock, model: mock } }",
      headers,
    ].join("\n")

  it("sluice start loads it and runs it on every request, with a key's own headers", async () => {
    // An absolute path here; the validate test below uses one relative to the config file.
    const gw = await startSluice(
      yaml(
        pluginFile,
        [
          "headers: { add: { x-served-by: edge-1 }, require: x-team }",
          'keys: [{ name: search, key: "sk-search-0123456789abcdef", headers: { x-key-team: search } }]',
        ].join("\n"),
      ),
    )
    try {
      const call = (headers: Record<string, string>) =>
        fetch(`${gw.url}/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: "Bearer sk-search-0123456789abcdef",
            ...headers,
          },
          body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }] }),
        })
      const ok = await call({ "x-team": "search" })
      expect(ok.status).toBe(200)
      expect(ok.headers.get("x-served-by")).toBe("edge-1")
      expect(ok.headers.get("x-key-team")).toBe("search")
      const refused = await call({})
      expect(refused.status).toBe(400)
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("x-team")
      expect(gw.output()).toContain("headers")
    } finally {
      await gw.stop()
    }
  })

  it("sluice validate checks its section with its schema (relative path) and still refuses unknown sections", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-plugin-"))
    const file = Path.join(dir, "sluice.yaml")
    Fs.writeFileSync(
      file,
      `${yaml(Path.relative(dir, pluginFile), 'headers: { add: { "X Bad": "v" } }')}\nheader: {}\n`,
    )
    const run = spawnSync(process.execPath, ["apps/gateway/bin/sluice.mjs", "validate", "--config", file], {
      cwd: root,
      encoding: "utf8",
      timeout: 90_000,
    })
    Fs.rmSync(dir, { recursive: true, force: true })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("headers.add")
    expect(run.stderr).toContain("header: unknown section")
  })

  it("sluice validate checks a key's part of the policy with the plugin's schema, naming the path", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sluice-plugin-"))
    const file = Path.join(dir, "sluice.yaml")
    const key = 'keys: [{ name: a, key: "sk-a-0123456789abcdef", headers: { "X Bad": v } }]'
    Fs.writeFileSync(file, `${yaml(Path.relative(dir, pluginFile), "headers: {}")}\n${key}\n`)
    const run = spawnSync(process.execPath, ["apps/gateway/bin/sluice.mjs", "validate", "--config", file], {
      cwd: root,
      encoding: "utf8",
      timeout: 90_000,
    })
    Fs.rmSync(dir, { recursive: true, force: true })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("keys[0].headers")
    expect(run.stderr).not.toContain("sk-a-0123456789abcdef")
  })
})
