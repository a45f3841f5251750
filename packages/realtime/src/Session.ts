/**
 * One realtime session: a client socket, its protocol codec, the upstream it is routed to and
 * the meter. The upstream opens once the model is known (Realtime: the URL; Live: `setup`) and
 * the connect is admitted; same-protocol sessions relay raw frames (still observed for
 * metering), others are translated through the canonical events. Either side closing closes
 * the other at once; the session also ends at its maximum length or when its key is revoked.
 */
import type { WebSocket } from "ws"
import type { GatewayError } from "@sluice/schema"
import type { ClientCodec, Format } from "./Codec.ts"
import type { Ending, Output } from "./Events.ts"
import type { Meter, Turn } from "./Meter.ts"
import { Peer } from "./Peer.ts"
import type { Handlers, Upstream } from "./Upstream.ts"

export interface Limits {
  /** Bytes queued towards a slow side before the other side is paused. */
  readonly highWater: number
  /** Milliseconds a session may last. */
  readonly maxDuration: number
  /** Milliseconds between re-checks of the session's key. */
  readonly recheckInterval: number
  /** Milliseconds the upstream may stay silent while a turn is open. */
  readonly stallTimeout: number
}

/** Where a model's session goes, or why it cannot. */
export type Route =
  | {
      readonly _tag: "Route"
      readonly format: Format | "mock"
      readonly upstreamModel: string
      readonly open: (handlers: Handlers, relay: boolean) => Upstream
    }
  | { readonly _tag: "Refused"; readonly ending: Ending }

export interface SessionOptions {
  readonly ws: WebSocket
  readonly codec: ClientCodec
  /** Known at connect for Realtime (`?model=`); Live names it in `setup`. */
  readonly model?: string | undefined
  readonly limits: Limits
  readonly meter: (model: string) => Meter
  readonly route: (model: string) => Route
  /** Called once when the session has ended on both sides. */
  readonly onEnd?: (() => void) | undefined
}

export const endingOf = (e: GatewayError): Ending => {
  switch (e._tag) {
    case "Unauthenticated":
    case "PermissionDenied":
    case "RateLimited":
    case "NotFound":
    case "GuardrailViolation":
      return { _tag: "Policy", message: e.message }
    case "InvalidRequest":
    case "PayloadTooLarge":
      return { _tag: "Invalid", message: e.message }
    case "Unavailable":
    case "Timeout":
    case "UpstreamError":
      return { _tag: "Unavailable", message: e.message }
    default:
      return { _tag: "Internal", message: "internal error" }
  }
}

const revoked = (e: GatewayError) => e._tag === "Unauthenticated" || e._tag === "PermissionDenied"

export const start = (options: SessionOptions): { readonly end: (ending: Ending) => void } => {
  const { ws, codec, limits } = options
  const client = new Peer(ws, limits.highWater)
  let upstream: Upstream | undefined
  let relay = false
  let upstreamModel = ""
  let meter: Meter | undefined
  let ended = false
  let chain: Promise<void> = Promise.resolve()
  /** Texts of the user's turn in progress (for the turn's request: guardrails, token estimate). */
  const texts: Array<string> = []
  let turn: Promise<Turn | undefined> | undefined
  const timers: Array<NodeJS.Timeout> = []
  /** Armed while a turn is open; every upstream frame pushes it back. */
  let stall: NodeJS.Timeout | undefined
  const disarm = () => {
    if (stall !== undefined) clearTimeout(stall)
    stall = undefined
  }
  const arm = () => {
    if (stall !== undefined) {
      stall.refresh()
      return
    }
    stall = setTimeout(
      () =>
        end({
          _tag: "Unavailable",
          message: `the upstream sent nothing for ${Math.round(limits.stallTimeout / 1000)} s during a turn`,
        }),
      limits.stallTimeout,
    )
    stall.unref()
  }

  const end = (ending: Ending) => {
    if (ended) return
    ended = true
    disarm()
    for (const t of timers) clearTimeout(t)
    const open = turn
    turn = undefined
    void open?.then((t) => t?.finish(undefined, "failed"))
    upstream?.close()
    for (const f of codec.errorFrames(ending)) client.send(f)
    // Read again (frames may have paused it), so the client's close reply is seen at once.
    ws.resume()
    client.close(codec.closeCode(ending), ending.message)
    options.onEnd?.()
  }

  /** A refused frame or turn: Realtime answers an error event and goes on, Live ends. */
  const refuse = (ending: Ending) => {
    if (codec.fatal) end(ending)
    else for (const f of codec.errorFrames(ending)) client.send(f)
  }

  const startTurn = async (): Promise<boolean> => {
    if (meter === undefined) return false
    const result = await meter.turn(texts.splice(0), (e) => end(endingOf(e)))
    if ("error" in result) {
      if (revoked(result.error)) end(endingOf(result.error))
      else refuse(endingOf(result.error))
      return false
    }
    if (ended) {
      void result.turn.finish(undefined, "failed")
      return false
    }
    turn = Promise.resolve(result.turn)
    arm()
    return true
  }

  /** Meter what the upstream says; a turn the upstream starts on its own (voice activity) opens here. */
  const observe = (out: Output) => {
    if (
      turn === undefined &&
      (out._tag === "TextDelta" ||
        out._tag === "AudioDelta" ||
        out._tag === "OutputTranscript" ||
        out._tag === "ToolCalls")
    ) {
      turn =
        meter === undefined
          ? Promise.resolve(undefined)
          : meter
              .turn([], (e) => end(endingOf(e)))
              .then((r) => {
                if ("error" in r) {
                  end(endingOf(r.error))
                  return undefined
                }
                return r.turn
              })
    }
    const current = turn
    switch (out._tag) {
      case "TextDelta":
      case "OutputTranscript":
        void current?.then((t) => t?.text(out.text))
        return
      case "ToolCalls":
        // Now the client's turn to answer: the upstream is not stalling while it waits.
        disarm()
        void current?.then((t) => {
          for (const c of out.calls) t?.toolCall(c.id, c.name, JSON.stringify(c.args))
        })
        return
      case "TurnDone":
        disarm()
        turn = undefined
        void current?.then((t) => t?.finish(out.usage, out.status))
        return
      default:
        return
    }
  }

  const handlers: Handlers = {
    output: (outputs, raw) => {
      if (ended) return
      if (stall !== undefined) stall.refresh()
      for (const out of outputs) observe(out)
      if (relay) {
        client.send(raw)
        return
      }
      for (const out of outputs) {
        if (out._tag === "Error" && codec.fatal) return end({ _tag: "Invalid", message: out.message.slice(0, 200) })
        for (const f of codec.encode(out)) client.send(f)
      }
    },
    closed: (ending) => end(ending),
  }

  const open = async (model: string): Promise<boolean> => {
    meter = options.meter(model)
    const refused = await meter.admit()
    if (ended) return false
    if (refused !== undefined) {
      end(endingOf(refused))
      return false
    }
    const route = options.route(model)
    if (route._tag === "Refused") {
      end(route.ending)
      return false
    }
    relay = route.format === codec.format
    upstreamModel = route.upstreamModel
    // A same-protocol upstream greets the client itself (Realtime session.created).
    if (!relay) for (const f of codec.greeting()) client.send(f)
    upstream = route.open(handlers, relay)
    client.source = upstream.source
    if (upstream.peer !== undefined) upstream.peer.source = client.asSource()
    const m = meter
    const recheck = setInterval(() => {
      void m.recheck().then((e) => {
        if (e !== undefined && revoked(e)) end(endingOf(e))
      })
    }, limits.recheckInterval)
    recheck.unref()
    timers.push(recheck)
    return true
  }

  const handle = async (text: string) => {
    if (ended) return
    const decoded = codec.decode(text)
    if (decoded.error !== undefined) {
      // Relaying, the upstream judges what the gateway does not understand (its own call ids, new fields).
      if (relay && upstream !== undefined) return upstream.sendRaw(text)
      return refuse(decoded.error)
    }
    if (decoded.model !== undefined && !(await open(decoded.model))) return
    if (upstream === undefined) return end({ _tag: "Internal", message: "the session has no upstream" })
    if (!relay) for (const f of decoded.replies) client.send(f)
    for (const input of decoded.inputs) {
      if (input._tag === "Text") texts.push(input.text)
      if (input._tag === "Respond" && !(await startTurn())) return
      if (input._tag === "ToolResult" && turn !== undefined) arm()
      if (ended) return
      if (!relay) upstream.send(input)
    }
    if (relay) upstream.sendRaw(codec.rewrite(text, upstreamModel))
  }

  ws.on("message", (data, isBinary) => {
    const text = isBinary || typeof data !== "string" ? Buffer.from(data as Buffer).toString("utf8") : data
    // Frames are handled in order; while one waits (admission), the socket is not read further.
    ws.pause()
    chain = chain
      .then(() => handle(text))
      .catch(() => end({ _tag: "Internal", message: "internal error" }))
      .finally(() => {
        if (!ended) ws.resume()
      })
  })
  // ws closes an over-long frame itself (1009) and reports it here; the session just ends.
  ws.on("error", () => end({ _tag: "Invalid", message: "protocol error" }))
  ws.on("close", () => {
    ended || end({ _tag: "Normal", message: "" })
  })

  const expiry = setTimeout(() => {
    for (const f of codec.encode({ _tag: "GoAway", timeLeftMs: 0 })) client.send(f)
    end({ _tag: "Normal", message: "the session reached its maximum length" })
  }, limits.maxDuration)
  expiry.unref()
  timers.push(expiry)

  if (options.model !== undefined) {
    const model = options.model
    ws.pause()
    chain = chain.then(async () => {
      if (await open(model)) ws.resume()
    })
  }
  return { end }
}
