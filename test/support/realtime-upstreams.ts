/**
 * Hand-written Gemini Live and OpenAI Realtime servers, strict as the docs describe them: the
 * wrong path or key fails the handshake (404/401), Live closes 1007 on anything but `setup`
 * first, an unknown field or a tool response to no call; Realtime answers unknown events,
 * invalid JSON and outputs for unknown call ids with `error` events. Both answer text with a
 * prefix, call `get_weather` when asked about the weather, and answer audio with audio.
 */
import type * as Http from "node:http"
import { type WebSocket, WebSocketServer } from "ws"

export interface MockServer {
  readonly url: string
  /** Every frame received, parsed, in order. */
  readonly received: Array<Record<string, unknown>>
  /** Sockets currently open. */
  readonly open: () => number
  /** Drop every open socket, as an upstream that goes away does. */
  readonly terminateAll: () => void
  readonly close: () => Promise<void>
}

const listen = (
  verify: (req: Http.IncomingMessage) => number | undefined,
  onConnection: (ws: WebSocket, req: Http.IncomingMessage, received: Array<Record<string, unknown>>) => void,
): Promise<MockServer> =>
  new Promise((resolve) => {
    const received: Array<Record<string, unknown>> = []
    const sockets = new Set<WebSocket>()
    const wss = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      verifyClient: (info, cb) => {
        const status = verify(info.req)
        if (status === undefined) cb(true)
        else cb(false, status)
      },
    })
    wss.on("connection", (ws, req) => {
      sockets.add(ws)
      ws.on("close", () => sockets.delete(ws))
      onConnection(ws, req, received)
    })
    wss.on("listening", () => {
      const address = wss.address()
      const port = typeof address === "string" || address === null ? 0 : address.port
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        open: () => sockets.size,
        terminateAll: () => {
          for (const s of sockets) s.terminate()
        },
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.terminate()
            wss.close(() => done())
          }),
      })
    })
  })

const weather = (text: string) => /weather/i.test(text)

// ---- Gemini Live -------------------------------------------------------------------------------

export const geminiLive = (apiKey: string): Promise<MockServer> =>
  listen(
    (req) => {
      const url = new URL(req.url ?? "/", "http://x")
      if (
        !/^\/ws\/google\.ai\.generativelanguage\.v1(beta|alpha)\.GenerativeService\.BidiGenerateContent$/.test(
          url.pathname,
        )
      )
        return 404
      const key = req.headers["x-goog-api-key"] ?? url.searchParams.get("key")
      return key === apiKey ? undefined : 401
    },
    (ws, _req, received) => {
      let setup: Record<string, any> | undefined
      const pending = new Map<string, string>()
      let calls = 0
      let audioBytes = 0
      // Live sends its JSON in binary frames.
      const send = (o: unknown) => ws.send(Buffer.from(JSON.stringify(o)))
      const fail = (reason: string) => ws.close(1007, reason)
      const answer = (text: string) => {
        // Fault injection: a model that accepts the turn and then says nothing, without closing.
        if (text.includes("stall")) return
        const tools = setup?.tools?.[0]?.functionDeclarations ?? []
        if (weather(text) && tools.length > 0) {
          const id = `fc-${++calls}`
          pending.set(id, tools[0].name)
          send({ toolCall: { functionCalls: [{ id, name: tools[0].name, args: { city: "Paris" } }] } })
          return
        }
        const reply = `live: ${text}`
        send({ serverContent: { modelTurn: { role: "model", parts: [{ text: reply.slice(0, 6) }] } } })
        send({ serverContent: { modelTurn: { role: "model", parts: [{ text: reply.slice(6) }] } } })
        send({
          serverContent: { generationComplete: true, turnComplete: true },
          usageMetadata: { promptTokenCount: 7, responseTokenCount: 4, totalTokenCount: 11 },
        })
      }
      ws.on("message", (data) => {
        let message: Record<string, any>
        try {
          message = JSON.parse(String(data))
        } catch {
          return fail("Invalid JSON payload")
        }
        received.push(message)
        const keys = Object.keys(message)
        if (keys.length !== 1) return fail("Invalid message: exactly one field expected")
        const [kind] = keys
        if (setup === undefined && kind !== "setup") return fail("setup must be the first message")
        switch (kind) {
          case "setup":
            if (setup !== undefined) return fail("setup sent twice")
            if (typeof message.setup.model !== "string" || !message.setup.model.startsWith("models/"))
              return fail("setup.model must be models/…")
            setup = message.setup
            return send({ setupComplete: {} })
          case "clientContent": {
            const text = (message.clientContent.turns ?? [])
              .flatMap((t: any) => t.parts ?? [])
              .map((p: any) => p.text ?? "")
              .join("")
            if (message.clientContent.turnComplete === true) answer(text)
            return
          }
          case "realtimeInput": {
            const input = message.realtimeInput
            if (input.audio !== undefined) {
              if (!/^audio\/pcm;rate=\d+$/.test(input.audio.mimeType ?? ""))
                return fail("audio mimeType must be audio/pcm;rate=N")
              audioBytes += Buffer.from(input.audio.data, "base64").length
            }
            if (input.text !== undefined) answer(input.text)
            if (input.audioStreamEnd === true) {
              const pcm = Buffer.alloc(4800) // 100 ms at 24 kHz
              send({ serverContent: { inputTranscription: { text: `heard ${audioBytes} bytes` } } })
              send({
                serverContent: {
                  modelTurn: {
                    role: "model",
                    parts: [{ inlineData: { mimeType: "audio/pcm;rate=24000", data: pcm.toString("base64") } }],
                  },
                },
              })
              send({ serverContent: { outputTranscription: { text: "live audio" } } })
              send({
                serverContent: { turnComplete: true },
                usageMetadata: { promptTokenCount: 20, responseTokenCount: 10, totalTokenCount: 30 },
              })
              audioBytes = 0
            }
            return
          }
          case "toolResponse": {
            const responses = message.toolResponse.functionResponses ?? []
            for (const r of responses) {
              if (pending.get(r.id) !== r.name) return fail(`no pending function call ${String(r.id).slice(0, 40)}`)
              pending.delete(r.id)
            }
            answer(`tool result ${JSON.stringify(responses[0]?.response)}`)
            return
          }
          default:
            return fail(`Unknown name "${String(kind).slice(0, 40)}"`)
        }
      })
    },
  )

// ---- OpenAI Realtime ---------------------------------------------------------------------------

const knownClientEvents = new Set([
  "session.update",
  "input_audio_buffer.append",
  "input_audio_buffer.commit",
  "input_audio_buffer.clear",
  "conversation.item.create",
  "response.create",
  "response.cancel",
])

export const openaiRealtime = (apiKey: string): Promise<MockServer> =>
  listen(
    (req) => {
      const url = new URL(req.url ?? "/", "http://x")
      if (url.pathname !== "/v1/realtime" || !url.searchParams.get("model")) return 404
      return req.headers.authorization === `Bearer ${apiKey}` ? undefined : 401
    },
    (ws, req, received) => {
      const model = new URL(req.url ?? "/", "http://x").searchParams.get("model")
      let n = 0
      const send = (type: string, body: Record<string, unknown> = {}) =>
        ws.send(JSON.stringify({ type, event_id: `event_m${++n}`, ...body }))
      const error = (code: string, message: string) =>
        send("error", { error: { type: "invalid_request_error", code, message, param: null, event_id: null } })
      let session: Record<string, any> = { type: "realtime", model, output_modalities: ["audio"], tools: [] }
      const calls = new Set<string>()
      let lastText = ""
      let toolOutput: string | undefined
      let audio = 0
      let committed = 0
      send("session.created", { session })
      ws.on("message", (data) => {
        let event: Record<string, any>
        try {
          event = JSON.parse(String(data))
        } catch {
          return error("invalid_json", "The server failed to parse the event")
        }
        received.push(event)
        if (!knownClientEvents.has(event.type))
          return error("invalid_event", `Unknown event type ${String(event.type).slice(0, 40)}`)
        switch (event.type) {
          case "session.update":
            if (event.session?.type !== "realtime")
              return error("missing_required_parameter", "session.type is required")
            session = { ...session, ...event.session }
            return send("session.updated", { session })
          case "input_audio_buffer.append":
            audio += Buffer.from(event.audio ?? "", "base64").length
            return
          case "input_audio_buffer.commit":
            if (audio === 0) return error("input_audio_buffer_commit_empty", "buffer is empty")
            committed = audio
            audio = 0
            return send("input_audio_buffer.committed", { item_id: "item_a", previous_item_id: null })
          case "conversation.item.create": {
            const item = event.item ?? {}
            if (item.type === "function_call_output") {
              if (!calls.has(item.call_id)) return error("invalid_value", "unknown call_id")
              calls.delete(item.call_id)
              toolOutput = item.output
            } else if (item.type === "message" && item.role === "user") {
              lastText = (item.content ?? []).map((c: any) => (c.type === "input_text" ? c.text : "")).join("")
            } else return error("invalid_value", "unsupported item")
            return send("conversation.item.added", { previous_item_id: null, item: { id: `item_${n}`, ...item } })
          }
          case "response.create": {
            const id = `resp_${n}`
            send("response.created", {
              response: { id, object: "realtime.response", status: "in_progress", output: [] },
            })
            const usage = { total_tokens: 12, input_tokens: 8, output_tokens: 4 }
            if (toolOutput === undefined && committed === 0 && weather(lastText) && session.tools?.length > 0) {
              const callId = `call_${n}`
              calls.add(callId)
              const name = session.tools[0].name
              const at = { response_id: id, item_id: "item_fc", output_index: 0, call_id: callId }
              send("response.output_item.added", {
                response_id: id,
                output_index: 0,
                item: { id: "item_fc", type: "function_call", call_id: callId, name, arguments: "" },
              })
              send("response.function_call_arguments.delta", { ...at, delta: '{"city":' })
              send("response.function_call_arguments.delta", { ...at, delta: '"Paris"}' })
              send("response.function_call_arguments.done", { ...at, name, arguments: '{"city":"Paris"}' })
              send("response.done", {
                response: {
                  id,
                  status: "completed",
                  output: [{ type: "function_call", call_id: callId, name, arguments: '{"city":"Paris"}' }],
                  usage,
                },
              })
              lastText = ""
              return
            }
            const at = { response_id: id, item_id: "item_msg", output_index: 0, content_index: 0 }
            if (committed > 0) {
              send("conversation.item.input_audio_transcription.completed", {
                item_id: "item_a",
                content_index: 0,
                transcript: `heard ${committed} bytes`,
              })
              send("response.output_audio.delta", { ...at, delta: Buffer.alloc(4800).toString("base64") })
              send("response.output_audio_transcript.delta", { ...at, delta: "realtime audio" })
              committed = 0
            } else {
              const text = toolOutput !== undefined ? `realtime tool result ${toolOutput}` : `realtime: ${lastText}`
              send("response.output_text.delta", { ...at, delta: text.slice(0, 5) })
              send("response.output_text.delta", { ...at, delta: text.slice(5) })
              send("response.output_text.done", { ...at, text })
            }
            toolOutput = undefined
            lastText = ""
            return send("response.done", { response: { id, status: "completed", output: [], usage } })
          }
          default:
            return
        }
      })
    },
  )
