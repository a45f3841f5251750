/** The `realtime:` config section: limits of WebSocket sessions. */
import { Schema } from "effect"
import { Config } from "@sluice/core"

export const RealtimeSection = Schema.Struct({
  /** Largest frame a client or upstream may send; larger ones close the socket with 1009. */
  maxFrame: Schema.optionalWith(Config.ByteSize, { default: () => 16 * 1024 * 1024 }),
  /** Longest a session may last. */
  maxDuration: Schema.optionalWith(Config.Duration, { default: () => 60 * 60_000 }),
  /** Bytes queued towards a slow side before the other side is paused. */
  highWater: Schema.optionalWith(Config.ByteSize, { default: () => 1024 * 1024 }),
  /** How often an open session's key is checked again (a revoked key's session is closed). */
  recheckInterval: Schema.optionalWith(Config.Duration, { default: () => 10_000 }),
  /** How long to wait for an upstream's WebSocket handshake. */
  connectTimeout: Schema.optionalWith(Config.Duration, { default: () => 10_000 }),
})
export type RealtimeSection = typeof RealtimeSection.Type
