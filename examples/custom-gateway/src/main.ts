/** Serve the custom gateway: `npm start -w @sluice/example-custom-gateway`. */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { NodeServer } from "@sluice/server"
import { gateway } from "./gateway.ts"

const upstream = process.env.UPSTREAM_BASE_URL ?? "http://127.0.0.1:11434/v1"
const key = process.env.SLUICE_DEMO_KEY ?? "sk-demo-change-me-0123456789"

Layer.unwrapEffect(Effect.map(gateway(upstream, key), (app) => NodeServer.layer(app, { port: 8788 }))).pipe(
  Layer.provide(NodeHttpClient.layerUndici),
  Layer.launch,
  NodeRuntime.runMain,
)
