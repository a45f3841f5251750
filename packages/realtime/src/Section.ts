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
  /**
   * How long the upstream may stay silent while a turn the client asked for is open; then the
   * session ends with an error the client understands (Live: close 1011; Realtime: an `error` event, then 1011).
   */
  stallTimeout: Schema.optionalWith(Config.Duration, { default: () => 60_000 }),
  /** How long to wait for an upstream's WebSocket handshake. */
  connectTimeout: Schema.optionalWith(Config.Duration, { default: () => 10_000 }),
})
export type RealtimeSection = typeof RealtimeSection.Type
