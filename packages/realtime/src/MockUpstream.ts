/**
 * The built-in `mock` provider's realtime side, in process: it echoes text (`echo: …`), answers
 * audio with a short tone (and a transcript), and calls the session's first tool when the user
 * text mentions "tool" — then echoes the tool's result.
 */
import type { Input, Output, SessionConfig } from "./Events.ts"
import { defaultConfig } from "./Events.ts"
import { noSource } from "./Peer.ts"
import * as Pcm from "./Pcm.ts"
import type { Handlers, Upstream } from "./Upstream.ts"

const tokens = (s: string) => Math.max(1, Math.ceil(s.length / 4))

export const make = (handlers: Handlers): Upstream => {
  let config: SessionConfig = defaultConfig
  let configured = false
  let closed = false
  let texts: Array<string> = []
  let audioBytes = 0
  let audioRate = 24_000
  let results: Array<string> = []
  let calls = 0
  const emit = (outputs: ReadonlyArray<Output>) =>
    setImmediate(() => {
      if (!closed) handlers.output(outputs, "")
    })

  const respond = () => {
    const out: Array<Output> = []
    const heard = texts.join(" ")
    const audioMs = Math.round((audioBytes / 2 / audioRate) * 1000)
    if (audioBytes > 0 && config.inputTranscription)
      out.push({ _tag: "InputTranscript", text: `(${audioMs} ms of audio)` })
    const tool = config.tools[0]
    if (results.length === 0 && tool !== undefined && /\btool\b/i.test(heard)) {
      out.push(
        {
          _tag: "ToolCalls",
          calls: [{ id: `call_mock${++calls}`, name: tool.name, args: { query: heard.slice(0, 200) } }],
        },
        { _tag: "TurnDone", status: "completed", usage: { inputTokens: tokens(heard), outputTokens: 5 } },
      )
    } else {
      const reply =
        results.length > 0
          ? `tool said: ${results.join(" ")}`
          : `echo: ${heard !== "" ? heard : audioBytes > 0 ? `${audioMs} ms of audio` : ""}`
      if (config.modality === "audio") {
        out.push(
          { _tag: "AudioDelta", pcm: Pcm.tone(200, 24_000), rate: 24_000 },
          { _tag: "OutputTranscript", text: reply },
        )
      } else {
        const half = Math.ceil(reply.length / 2)
        out.push({ _tag: "TextDelta", text: reply.slice(0, half) }, { _tag: "TextDelta", text: reply.slice(half) })
      }
      out.push({
        _tag: "TurnDone",
        status: "completed",
        usage: { inputTokens: tokens(heard) + Math.ceil(audioMs / 40), outputTokens: tokens(reply) },
      })
    }
    texts = []
    results = []
    audioBytes = 0
    emit(out)
  }

  const send = (input: Input) => {
    if (closed) return
    if (!configured && input._tag !== "Configure") {
      configured = true
      emit([{ _tag: "Ready" }])
    }
    switch (input._tag) {
      case "Configure":
        config = input.config
        configured = true
        emit([{ _tag: "Ready" }])
        return
      case "Text":
        texts.push(input.text)
        return
      case "Audio":
        audioBytes += input.pcm.length
        audioRate = input.rate
        return
      case "AudioEnd":
        return
      case "ToolResult":
        results.push(JSON.stringify(input.output))
        return
      case "Respond":
        return respond()
      case "Cancel":
        return
    }
  }

  return {
    format: "mock",
    send,
    sendRaw: () => {},
    source: noSource,
    peer: undefined,
    close: () => {
      closed = true
    },
  }
}
