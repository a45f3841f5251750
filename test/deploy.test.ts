/**
 * deploy/: the files a container platform reads, checked without one. YAML parses; the compose
 * file, the collector's config and the Kubernetes manifests agree with each other and with the
 * gateway's config (validated by the gateway's own loader); probes hit /healthz; the grace period
 * covers the drain. The Dockerfile's steps themselves run in deploy/check-dockerfile.mjs (the
 * packaging test runs its runtime stage).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Either } from "effect"
import { Assemble } from "@sluice/gateway"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"

const deploy = Path.resolve(import.meta.dirname, "../deploy")
const read = (file: string) => Fs.readFileSync(Path.join(deploy, file), "utf8")

// Parsed YAML, checked field by field below.
type Doc = any

const parseAll = (file: string): Array<Doc> => {
  const docs = YAML.parseAllDocuments(read(file))
  for (const d of docs) expect(d.errors, file).toEqual([])
  return docs.map((d) => d.toJS()).filter((d) => d !== null)
}
const parseOne = (file: string): Doc => {
  const docs = parseAll(file)
  expect(docs, file).toHaveLength(1)
  return docs[0]
}

const configText = read("sluice.yaml")
/** Every ${VAR} the config's values read (comments aside), and whether it has a default. */
const strings = (v: unknown): Array<string> =>
  typeof v === "string" ? [v] : typeof v === "object" && v !== null ? Object.values(v).flatMap(strings) : []
const variables = strings(YAML.parse(configText)).flatMap((s) =>
  [...s.matchAll(/\$\{(\w+)(:-[^}]*)?\}/g)].map((m) => ({ name: m[1]!, required: !m[2] })),
)
/** A value of the right shape for each. */
const sample = (name: string): string =>
  name === "REDIS_URL"
    ? "redis://redis:6379"
    : name.endsWith("_ENDPOINT")
      ? "http://otel-collector:4318"
      : name.endsWith("_KEY")
        ? "sk-sample-0123456789abcdef"
        : "sample:"
const env = Object.fromEntries(variables.map((v) => [v.name, sample(v.name)]))

/** The gateway's own loader: unknown keys, bad values and missing variables are errors. */
const loadConfig = (text: string, withEnv: Record<string, string>) => {
  const result = Assemble.loadConfig(text, withEnv)
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}

const seconds = (duration: string): number => {
  const m = /^(\d+)(ms|s|m)$/.exec(duration)
  if (!m) throw new Error(`not a duration: ${duration}`)
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as "ms" | "s" | "m"]
}

describe("deploy/sluice.yaml", () => {
  it("is a valid gateway config that serves on every interface, with its secrets from the environment", () => {
    const config = loadConfig(configText, env)
    expect(config.server.host).toBe("0.0.0.0")
    expect(config.server.port).toBe(8787)
    expect(variables.filter((v) => v.required).map((v) => v.name)).toEqual(["SLUICE_ADMIN_KEY"])
    expect(() => loadConfig(configText, {})).toThrow(/admin\.key: environment variable SLUICE_ADMIN_KEY/)
    // No literal secret: every apiKey and the admin key come from a variable.
    const doc = YAML.parse(configText)
    for (const p of Object.values(doc.providers) as Array<{ apiKey?: string }>)
      if (p.apiKey !== undefined) expect(p.apiKey).toMatch(/^\$\{\w+(:-)?\}$/)
    expect(doc.admin.key).toBe("${SLUICE_ADMIN_KEY}")
  })
})

describe("deploy/Dockerfile", () => {
  const text = read("Dockerfile")
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("#"))
  const froms = lines.filter((l) => l.startsWith("FROM "))
  const finalStage = lines.slice(lines.lastIndexOf(froms.at(-1)!))

  it("builds in one stage and runs a slim Node 20 as a non-root user in another", () => {
    expect(froms.length).toBeGreaterThanOrEqual(2)
    const image = /^ARG NODE_IMAGE=(\S+)/m.exec(text)?.[1]
    expect(image).toMatch(/^node:20[\w.-]*-slim$/)
    for (const f of froms) expect(f).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/)
    expect(lines).toContain("RUN npm ci --no-audit --no-fund")
    expect(lines).toContain("RUN npm run build")
    const user = finalStage.find((l) => l.startsWith("USER "))
    expect(user).toBeDefined()
    expect(user).not.toMatch(/USER (root|0)\b/)
    expect(finalStage.some((l) => /^COPY --from=build /.test(l))).toBe(true)
  })

  it("checks /healthz on the port it exposes, and starts sluice with plain node", () => {
    const health = finalStage.find((l) => l.startsWith("HEALTHCHECK "))
    expect(health).toContain("http://127.0.0.1:8787/healthz")
    expect(finalStage).toContain("EXPOSE 8787")
    expect(finalStage).toContain('ENTRYPOINT ["node", "bin/sluice.mjs"]')
    expect(Fs.existsSync(Path.join(deploy, "Dockerfile.dockerignore"))).toBe(true)
    expect(read("Dockerfile.dockerignore")).toMatch(/^\*\*\/node_modules$/m)
  })
})

describe("deploy/docker-compose.yml", () => {
  const compose = parseOne("docker-compose.yml")
  const collector = parseOne("otel-collector.yaml")

  it("runs the gateway from the Dockerfile with its config mounted, Redis and a collector", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["gateway", "otel-collector", "redis"])
    const gw = compose.services.gateway
    expect(Fs.existsSync(Path.resolve(deploy, gw.build.context, gw.build.dockerfile))).toBe(true)
    const mount = (gw.volumes as Array<string>).find((v) => v.endsWith(":/etc/sluice/sluice.yaml:ro"))
    expect(mount).toBe("./sluice.yaml:/etc/sluice/sluice.yaml:ro")
    expect(gw.command).toEqual(["start", "--config", "/etc/sluice/sluice.yaml"])
    expect(gw.depends_on.redis.condition).toBe("service_healthy")
    expect(compose.services.redis.healthcheck.test).toContain("ping")
    // Every variable the config requires is passed in.
    for (const v of variables.filter((x) => x.required)) expect(Object.keys(gw.environment), v.name).toContain(v.name)
  })

  it("points the gateway at the Redis and collector services, on the port the collector receives OTLP/HTTP", () => {
    const gw = compose.services.gateway
    const config = loadConfig(configText, gw.environment)
    const redisUrl = new URL((config as unknown as { redis: { url: string } }).redis.url)
    expect(redisUrl.hostname).toBe("redis")
    const otlp = new URL(gw.environment.OTEL_EXPORTER_OTLP_ENDPOINT)
    expect(Object.keys(compose.services)).toContain(otlp.hostname)
    const receiver = collector.receivers.otlp.protocols.http.endpoint as string
    expect(receiver.split(":").pop()).toBe(otlp.port)
    const mounted = (compose.services[otlp.hostname].volumes as Array<string>)[0]!.split(":")
    expect(Path.resolve(deploy, mounted[0]!)).toBe(Path.join(deploy, "otel-collector.yaml"))
    expect(compose.services[otlp.hostname].command).toEqual([`--config=${mounted[1]}`])
  })

  it("gives the gateway longer than server.shutdownTimeout to stop", () => {
    const config = loadConfig(configText, env)
    expect(seconds(compose.services.gateway.stop_grace_period)).toBeGreaterThan(config.server.shutdownTimeout / 1000)
  })

  it("has a collector config whose pipelines use only what it defines", () => {
    for (const [name, pipeline] of Object.entries(collector.service.pipelines) as Array<[string, Doc]>) {
      for (const r of pipeline.receivers) expect(Object.keys(collector.receivers), name).toContain(r)
      for (const p of pipeline.processors ?? []) expect(Object.keys(collector.processors), name).toContain(p)
      for (const e of pipeline.exporters) expect(Object.keys(collector.exporters), name).toContain(e)
    }
    expect(Object.keys(collector.service.pipelines).sort()).toEqual(["metrics", "traces"])
  })
})

describe("deploy/k8s", () => {
  const kustomization = parseOne("k8s/kustomization.yaml")
  const objects: Array<Doc> = (kustomization.resources as Array<string>).flatMap((f) => parseAll(`k8s/${f}`))
  const find = (kind: string) => {
    const found = objects.filter((o) => o.kind === kind)
    expect(found, kind).toHaveLength(1)
    return found[0]
  }
  const deployment = find("Deployment")
  const configMap = find("ConfigMap")
  const secret = find("Secret")
  const service = find("Service")
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]

  it("lists every manifest in the kustomization", () => {
    const files = Fs.readdirSync(Path.join(deploy, "k8s")).filter((f) => f !== "kustomization.yaml")
    expect([...kustomization.resources].sort()).toEqual(files.sort())
  })

  it("mounts the ConfigMap, which holds deploy/sluice.yaml, where the container's args read it", () => {
    expect(configMap.data["sluice.yaml"]).toBe(configText)
    const volume = pod.volumes.find((v: Doc) => v.configMap?.name === configMap.metadata.name)
    const mount = container.volumeMounts.find((m: Doc) => m.name === volume.name)
    const configPath = container.args[container.args.indexOf("--config") + 1]
    expect(Path.posix.join(mount.mountPath, "sluice.yaml")).toBe(configPath)
  })

  it("takes the required variables and the provider keys from the Secret", () => {
    const fromSecret = container.envFrom.map((e: Doc) => e.secretRef?.name)
    expect(fromSecret).toContain(secret.metadata.name)
    const given = [...Object.keys(secret.stringData), ...container.env.map((e: Doc) => e.name)]
    for (const v of variables.filter((x) => x.required)) expect(given, v.name).toContain(v.name)
    for (const key of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "REDIS_URL"])
      expect(Object.keys(secret.stringData)).toContain(key)
    // The config loads with exactly what the pod is given.
    loadConfig(configMap.data["sluice.yaml"], {
      ...secret.stringData,
      ...Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value])),
    })
  })

  it("probes readiness and liveness on /healthz at the container's port", () => {
    const config = loadConfig(configText, env)
    const port = container.ports.find((p: Doc) => p.name === "http")
    expect(port.containerPort).toBe(config.server.port)
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet.path).toBe("/healthz")
      expect(probe.httpGet.port).toBe("http")
    }
  })

  it("gives the pod a grace period that covers the preStop pause and server.shutdownTimeout", () => {
    const config = loadConfig(configMap.data["sluice.yaml"], env)
    const preStop = container.lifecycle.preStop.exec.command as Array<string>
    expect(preStop[0]).toBe("sleep")
    const pause = Number(preStop[1])
    const grace = pod.terminationGracePeriodSeconds as number
    expect(grace).toBeGreaterThan(pause + config.server.shutdownTimeout / 1000)
    // And not far more: a stuck pod should not hold a rollout for minutes.
    expect(grace).toBeLessThanOrEqual(pause + config.server.shutdownTimeout / 1000 + 15)
  })

  it("runs as a non-root user, and the Service reaches the pods' named port", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true)
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false)
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels)
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels)
    expect(service.spec.ports[0].targetPort).toBe("http")
  })
})
