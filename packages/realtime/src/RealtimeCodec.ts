/**
 * The OpenAI Realtime client protocol, GA event names. The server speaks first
 * (`session.created`); client events are JSON objects with a `type`. A refused event is
 * answered with an `error` event naming it and the session goes on, as OpenAI does.
 */
import { type ClientCodec, type Decoded, ok, refuse } from "./Codec.ts"
import type { Ending, Input, Output, SessionConfig, ToolDecl } from "./Events.ts"
import { arr, b64, echo, num, obj, type Obj, parse, str } from "./Json.ts"
import * as Pcm from "./Pcm.ts"

/** GA Realtime audio is PCM16 at 24 kHz only. */
export const rate = 24_000

let sessions = 0
const id = (prefix: string) => `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`

interface OpenItem {
  readonly id: string
  readonly kind: "text" | "audio"
  text: string
}

export const make = (model: string): ClientCodec => {
  const sessionId = `sess_${(++sessions).toString(36)}${Math.random().toString(36).slice(2, 12)}`
  let config: SessionConfig = {
    tools: [],
    modality: "audio",
    inputTranscription: false,
    outputTranscription: true,
  }
  let bufferedAudio = 0
  let response: { id: string; output: Array<Obj>; item: OpenItem | undefined } | undefined
  let eventIds = 0
  const ev = (type: string, body: Obj = {}): string =>
    JSON.stringify({ type, event_id: `event_${(++eventIds).toString(36)}`, ...body })

  const sessionObject = (): Obj => ({
    type: "realtime",
    object: "realtime.session",
    id: sessionId,
    model,
    output_modalities: [config.modality],
    instructions: config.instructions ?? "",
    tools: config.tools.map((t) => ({
      type: "function",
      name: t.name,
      description: t.description ?? "",
      parameters: t.parameters ?? {},
    })),
    tool_choice: "auto",
    max_output_tokens: config.maxOutputTokens ?? "inf",
    audio: {
      input: {
        format: { type: "audio/pcm", rate },
        transcription: config.inputTranscription ? { model: "whisper-1" } : null,
        turn_detection: null,
      },
      output: { format: { type: "audio/pcm", rate }, voice: config.voice ?? "alloy", speed: 1 },
    },
  })

  const sessionUpdate = (session: Obj): Decoded => {
    if (session.type !== "realtime") return refuse('session.type: expected "realtime"')
    const tools: Array<ToolDecl> = []
    for (const t of arr(session.tools)) {
      const tool = obj(t)
      if (tool?.type !== "function" || str(tool.name) === undefined)
        return refuse('session.tools: only {type: "function", name, parameters} tools are supported')
      tools.push({ name: str(tool.name)!, description: str(tool.description), parameters: tool.parameters })
    }
    const modalities = session.output_modalities === undefined ? undefined : arr(session.output_modalities)
    if (
      modalities !== undefined &&
      (modalities.length !== 1 || (modalities[0] !== "text" && modalities[0] !== "audio"))
    )
      return refuse('session.output_modalities: expected ["text"] or ["audio"]')
    const audio = obj(session.audio)
    const input = obj(audio?.input)
    const format = obj(input?.format)
    if (format !== undefined && (format.type !== "audio/pcm" || (format.rate !== undefined && format.rate !== rate)))
      return refuse('session.audio.input.format: only {type: "audio/pcm", rate: 24000} is supported')
    const max = session.max_output_tokens
    config = {
      ...config,
      ...(session.instructions !== undefined ? { instructions: str(session.instructions) } : {}),
      ...(session.tools !== undefined ? { tools } : {}),
      ...(modalities !== undefined ? { modality: modalities[0] as "text" | "audio" } : {}),
      ...(str(obj(audio?.output)?.voice) !== undefined ? { voice: str(obj(audio?.output)?.voice) } : {}),
      ...(max !== undefined ? { maxOutputTokens: num(max) } : {}),
      ...(input !== undefined && "transcription" in input
        ? { inputTranscription: obj(input.transcription) !== undefined }
        : {}),
    }
    return ok([{ _tag: "Configure", config }])
  }

  const itemCreate = (event: Obj): Decoded => {
    const item = obj(event.item)
    if (item === undefined) return refuse("item: required")
    const itemId = str(item.id) ?? id("item")
    const acks = (full: Obj) => [
      ev("conversation.item.added", { previous_item_id: null, item: full }),
      ev("conversation.item.done", { previous_item_id: null, item: full }),
    ]
    if (item.type === "function_call_output") {
      const callId = str(item.call_id)
      const output = str(item.output)
      if (callId === undefined || output === undefined)
        return refuse("item: function_call_output needs call_id and output")
      const name = calls.get(callId)
      if (name === undefined) return refuse(`item.call_id: no function call "${echo(callId)}" in this session`)
      let parsed: unknown = output
      try {
        parsed = JSON.parse(output)
      } catch {}
      return ok(
        [{ _tag: "ToolResult", id: callId, name, output: parsed }],
        acks({ id: itemId, type: "function_call_output", call_id: callId, output, status: "completed" }),
      )
    }
    if (item.type === "message" || item.type === undefined) {
      if (item.role !== "user") return refuse("item.role: only user messages can be created")
      const inputs: Array<Input> = []
      for (const c of arr(item.content)) {
        const part = obj(c)
        if (part?.type !== "input_text" || str(part.text) === undefined)
          return refuse("item.content: only input_text parts are supported")
        inputs.push({ _tag: "Text", text: str(part.text)! })
      }
      return ok(inputs, acks({ id: itemId, type: "message", role: "user", status: "completed", content: item.content }))
    }
    return refuse(`item.type: unsupported "${echo(String(item.type))}"`)
  }

  /** Function call ids the model produced → their names (answers are matched against them). */
  const calls = new Map<string, string>()

  const decode = (text: string): Decoded => {
    const event = parse(text)
    if (event === undefined) return refuse("invalid JSON: each event must be one JSON object")
    const type = str(event.type)
    if (type === undefined) return refuse("type: required")
    switch (type) {
      case "session.update": {
        const session = obj(event.session)
        return session === undefined ? refuse("session: required") : sessionUpdate(session)
      }
      case "input_audio_buffer.append": {
        const pcm = b64(event.audio)
        if (pcm === undefined) return refuse("audio: expected base64 PCM16")
        bufferedAudio += pcm.length
        return ok([{ _tag: "Audio", pcm, rate }])
      }
      case "input_audio_buffer.commit": {
        if (bufferedAudio === 0) return refuse("input_audio_buffer.commit: the buffer is empty")
        bufferedAudio = 0
        return ok(
          [{ _tag: "AudioEnd" }],
          [ev("input_audio_buffer.committed", { previous_item_id: null, item_id: id("item") })],
        )
      }
      case "input_audio_buffer.clear":
        return bufferedAudio > 0
          ? refuse("input_audio_buffer.clear: audio already sent upstream cannot be taken back")
          : ok([], [ev("input_audio_buffer.cleared")])
      case "conversation.item.create":
        return itemCreate(event)
      case "response.create":
        if (response !== undefined) return refuse("response.create: a response is already in progress")
        return ok([{ _tag: "Respond" }])
      case "response.cancel":
        return ok([{ _tag: "Cancel" }])
      case "conversation.item.retrieve":
      case "conversation.item.truncate":
      case "conversation.item.delete":
      case "output_audio_buffer.clear":
        return refuse(`${type}: not supported by this gateway`)
      default:
        return refuse(`unknown event type "${echo(type)}"`)
    }
  }

  const begin = (): { id: string; output: Array<Obj>; item: OpenItem | undefined } => {
    if (response === undefined) response = { id: id("resp"), output: [], item: undefined }
    return response
  }
  const responseObject = (r: { id: string; output: Array<Obj> }, status: string, usage?: Obj): Obj => ({
    id: r.id,
    object: "realtime.response",
    status,
    output: r.output,
    ...(usage !== undefined ? { usage } : {}),
  })

  /** The frames that open a response and its message item, once. */
  const openItem = (kind: "text" | "audio", frames: Array<string>) => {
    const fresh = response === undefined
    const r = begin()
    if (fresh) frames.push(ev("response.created", { response: responseObject(r, "in_progress") }))
    if (r.item === undefined) {
      r.item = { id: id("item"), kind, text: "" }
      frames.push(
        ev("response.output_item.added", {
          response_id: r.id,
          output_index: r.output.length,
          item: { id: r.item.id, type: "message", role: "assistant", status: "in_progress", content: [] },
        }),
        ev("response.content_part.added", {
          response_id: r.id,
          item_id: r.item.id,
          output_index: r.output.length,
          content_index: 0,
          part: kind === "text" ? { type: "output_text", text: "" } : { type: "output_audio", transcript: "" },
        }),
      )
    }
    return r as { id: string; output: Array<Obj>; item: OpenItem }
  }

  const closeItem = (frames: Array<string>) => {
    const r = response
    if (r?.item === undefined) return
    const item = r.item
    const at = { response_id: r.id, item_id: item.id, output_index: r.output.length, content_index: 0 }
    const part =
      item.kind === "text" ? { type: "output_text", text: item.text } : { type: "output_audio", transcript: item.text }
    if (item.kind === "text") frames.push(ev("response.output_text.done", { ...at, text: item.text }))
    else {
      frames.push(ev("response.output_audio.done", at))
      frames.push(ev("response.output_audio_transcript.done", { ...at, transcript: item.text }))
    }
    frames.push(ev("response.content_part.done", { ...at, part }))
    const done = { id: item.id, type: "message", role: "assistant", status: "completed", content: [part] }
    frames.push(ev("response.output_item.done", { response_id: r.id, output_index: r.output.length, item: done }))
    r.output.push(done)
    r.item = undefined
  }

  const encode = (out: Output): ReadonlyArray<string> => {
    const frames: Array<string> = []
    switch (out._tag) {
      case "Ready":
        frames.push(ev("session.updated", { session: sessionObject() }))
        break
      case "TextDelta": {
        const r = openItem("text", frames)
        r.item.text += out.text
        frames.push(
          ev("response.output_text.delta", {
            response_id: r.id,
            item_id: r.item.id,
            output_index: r.output.length,
            content_index: 0,
            delta: out.text,
          }),
        )
        break
      }
      case "AudioDelta": {
        const r = openItem("audio", frames)
        const pcm = Pcm.resample(out.pcm, out.rate, rate)
        frames.push(
          ev("response.output_audio.delta", {
            response_id: r.id,
            item_id: r.item.id,
            output_index: r.output.length,
            content_index: 0,
            delta: pcm.toString("base64"),
          }),
        )
        break
      }
      case "OutputTranscript": {
        const r = openItem("audio", frames)
        r.item.text += out.text
        frames.push(
          ev("response.output_audio_transcript.delta", {
            response_id: r.id,
            item_id: r.item.id,
            output_index: r.output.length,
            content_index: 0,
            delta: out.text,
          }),
        )
        break
      }
      case "InputTranscript":
        frames.push(
          ev("conversation.item.input_audio_transcription.completed", {
            item_id: id("item"),
            content_index: 0,
            transcript: out.text,
          }),
        )
        break
      case "ToolCalls": {
        const fresh = response === undefined
        const r = begin()
        if (fresh) frames.push(ev("response.created", { response: responseObject(r, "in_progress") }))
        closeItem(frames)
        for (const call of out.calls) {
          calls.set(call.id, call.name)
          const itemId = id("item")
          const args = JSON.stringify(call.args)
          const at = { response_id: r.id, item_id: itemId, output_index: r.output.length }
          frames.push(
            ev("response.output_item.added", {
              response_id: r.id,
              output_index: r.output.length,
              item: {
                id: itemId,
                type: "function_call",
                status: "in_progress",
                call_id: call.id,
                name: call.name,
                arguments: "",
              },
            }),
          )
          frames.push(ev("response.function_call_arguments.delta", { ...at, call_id: call.id, delta: args }))
          frames.push(
            ev("response.function_call_arguments.done", { ...at, call_id: call.id, name: call.name, arguments: args }),
          )
          const done = {
            id: itemId,
            type: "function_call",
            status: "completed",
            call_id: call.id,
            name: call.name,
            arguments: args,
          }
          frames.push(ev("response.output_item.done", { response_id: r.id, output_index: r.output.length, item: done }))
          r.output.push(done)
        }
        break
      }
      case "Interrupted":
        frames.push(ev("input_audio_buffer.speech_started", { audio_start_ms: 0, item_id: id("item") }))
        break
      case "GoAway":
        break
      case "Error":
        frames.push(
          ev("error", {
            error: {
              type: "invalid_request_error",
              code: out.code ?? "upstream_error",
              message: out.message,
              param: null,
              event_id: null,
            },
          }),
        )
        break
      case "TurnDone": {
        const r = begin()
        closeItem(frames)
        const usage =
          out.usage === undefined
            ? undefined
            : {
                total_tokens: out.usage.inputTokens + out.usage.outputTokens,
                input_tokens: out.usage.inputTokens,
                output_tokens: out.usage.outputTokens,
              }
        frames.push(ev("response.done", { response: responseObject(r, out.status, usage) }))
        response = undefined
        break
      }
    }
    return frames
  }

  const errorFrames = (ending: Ending): ReadonlyArray<string> =>
    ending._tag === "Normal"
      ? []
      : [
          ev("error", {
            error: {
              type:
                ending._tag === "Invalid"
                  ? "invalid_request_error"
                  : ending._tag === "Policy"
                    ? "invalid_request_error"
                    : "server_error",
              code:
                ending._tag === "Invalid"
                  ? "invalid_value"
                  : ending._tag === "Policy"
                    ? "policy_violation"
                    : "server_error",
              message: ending.message,
              param: null,
              event_id: null,
            },
          }),
        ]

  const closeCode = (ending: Ending): number =>
    ending._tag === "Normal" ? 1000 : ending._tag === "Policy" ? 1008 : ending._tag === "Invalid" ? 1007 : 1011

  const rewrite = (text: string, upstreamModel: string): string => {
    const event = parse(text)
    const session = obj(event?.session)
    if (event?.type !== "session.update" || session === undefined || session.model === undefined) return text
    return JSON.stringify({ ...event, session: { ...session, model: upstreamModel } })
  }

  return {
    format: "openai",
    greeting: () => [ev("session.created", { session: sessionObject() })],
    decode,
    encode,
    errorFrames,
    fatal: false,
    closeCode,
    rewrite,
  }
}
