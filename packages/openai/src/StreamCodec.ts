/**
 * Chat completion streams, both ways.
 * - `encode`: canonical events → `chat.completion.chunk` SSE frames for a client: a role chunk,
 *   content / reasoning_content / tool_calls deltas (first fragment of call k carries index k, id,
 *   type and name), a finish chunk, the `choices: []` usage chunk only when asked, `[DONE]`.
 * - `decode`: an upstream's chunks → canonical events, reassembling the same fragments.
 * State lives inside each stream run, never shared between requests.
 */
import { Effect, Either, Stream } from "effect"
import { Errors, type FinishReason, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"
import { Chunked, Ingress, Sse } from "@sluice/core"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as ThoughtSignature from "./ThoughtSignature.ts"
import { canonicalFinish, canonicalUsage, imagePart, outputImage, wireFinish, wireUsage } from "./ResponseCodec.ts"
import { decode as decodeWith, isRecord } from "./Decode.ts"
import * as Wire from "./Wire.ts"

// ---- canonical → client ---------------------------------------------------------------------

export interface EncodeOptions {
  readonly includeUsage: boolean
  /** Unix seconds stamped on every chunk. */
  readonly created?: number
}

const frame = (chunk: Wire.ChatCompletionChunk) => Ingress.sseFrame(JSON.stringify(chunk))
export const done = Ingress.sseFrame("[DONE]")

export const encode = (
  events: Stream.Stream<StreamEvent, GatewayError>,
  options: EncodeOptions,
): Stream.Stream<string> => {
  // A pulled stream is consumed once: its state is made now, and the frames stay a pulled stream.
  const build = () => {
    const created = options.created ?? Math.floor(Date.now() / 1000)
    let id = `chatcmpl-${crypto.randomUUID()}`
    let model = ""
    let started = false
    let finished = false
    /** canonical tool index → OpenAI tool_calls index (0, 1, … in order of first appearance). */
    const toolIndex = new Map<number, number>()
    let images = 0

    const chunk = (delta: Wire.Delta, finish: Wire.FinishReason | null = null): Wire.ChatCompletionChunk => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(options.includeUsage ? { usage: null } : {}),
    })

    const opening = (): Array<string> => {
      if (started) return []
      started = true
      return [frame(chunk({ role: "assistant", content: "" }))]
    }

    const ending = (finishReason: FinishReason, usage: Usage | undefined): Array<string> => {
      finished = true
      const out = [...opening(), frame(chunk({}, wireFinish(finishReason)))]
      if (options.includeUsage && usage !== undefined) {
        out.push(
          frame({
            id,
            object: "chat.completion.chunk",
            created,
            model,
            choices: [],
            usage: wireUsage(usage),
          }),
        )
      }
      out.push(done)
      return out
    }

    const onEvent = (e: StreamEvent): Array<string> => {
      if (finished) return []
      switch (e._tag) {
        case "start":
          id = e.id
          model = e.model
          return opening()
        case "text_delta":
          return e.text === "" ? [] : [...opening(), frame(chunk({ content: e.text }))]
        case "reasoning_delta":
          // Not in OpenAI's schema; the de-facto field (DeepSeek) that the SDK passes through.
          return e.text === "" ? [] : [...opening(), frame(chunk({ reasoning_content: e.text }))]
        case "image": {
          const image = outputImage(
            { type: "image", source: { kind: "base64", mediaType: e.mediaType, data: e.data } },
            images++,
          )
          return [...opening(), frame(chunk({ images: [image] }))]
        }
        case "tool_call_start": {
          const index = toolIndex.size
          toolIndex.set(e.index, index)
          return [
            ...opening(),
            frame(
              chunk({
                tool_calls: [
                  {
                    index,
                    ...ThoughtSignature.toClient(e.id, e.signature),
                    type: "function",
                    function: { name: e.name, arguments: "" },
                  },
                ],
              }),
            ),
          ]
        }
        case "tool_call_delta": {
          const index = toolIndex.get(e.index)
          if (index === undefined || e.arguments === "") return []
          return [frame(chunk({ tool_calls: [{ index, function: { arguments: e.arguments } }] }))]
        }
        case "tool_call_end":
        case "usage":
          return []
        case "finish":
          return ending(e.finishReason, e.usage)
      }
    }

    const onError = (e: GatewayError): ReadonlyArray<string> => {
      if (finished) return []
      // A guardrail stop mid-answer is a content-filter ending, not an error.
      if (e._tag === "GuardrailViolation") return ending("content_filter", undefined)
      finished = true
      return [Ingress.sseFrame(JSON.stringify({ error: ErrorCodec.errorObject(e) }))]
    }

    return frames(events, onEvent, onError, () => finished)
  }
  return Chunked.pullOf(events) === undefined ? Stream.suspend(build) : build()
}

/**
 * Frames for a canonical stream, shared by both OpenAI stream dialects: events through `onEvent`,
 * a failure through `onError`, and a stream that ends without `finish` (it broke the stream
 * contract) reported through `onError` too.
 */
export const frames = (
  events: Stream.Stream<StreamEvent, GatewayError>,
  onEvent: (e: StreamEvent) => ReadonlyArray<string>,
  onError: (e: GatewayError) => ReadonlyArray<string>,
  finished: () => boolean,
): Stream.Stream<string> =>
  // One stage per stream: events, a failure and the end are framed by the same closure.
  Chunked.frame(events, () => ({
    push: (input, out) => {
      for (const e of input) for (const f of onEvent(e)) out.push(f)
    },
    fail: (e, out) => {
      for (const f of onError(e)) out.push(f)
    },
    end: (out) => {
      if (finished()) return
      for (const f of onError(
        new Errors.UpstreamError({ message: "the answer ended before it finished", status: 502 }),
      ))
        out.push(f)
    },
  }))

// ---- upstream → canonical -------------------------------------------------------------------

const startOf = (call: OpenCall, name: string): StreamEvent =>
  call.signature === undefined
    ? { _tag: "tool_call_start", index: call.canonical, id: call.id, name }
    : { _tag: "tool_call_start", index: call.canonical, id: call.id, name, signature: call.signature }

interface OpenCall {
  readonly canonical: number
  id: string
  name: string | undefined
  /** Arguments that arrived before the name (some servers split them); sent once started. */
  pending: string
  started: boolean
  /** Google's OpenAI-compatible endpoint signs calls in extra_content. */
  signature: string | undefined
}

/** Upstream chunks → canonical events, in plain JS; one per stream run (it holds the stream's state). */
export interface Decoder {
  readonly onChunk: (c: Wire.ChatCompletionChunk, out: Array<StreamEvent>) => void
  /** The upstream ended: the closing `finish` event, or the error when it never finished. */
  readonly end: (out: Array<StreamEvent>) => GatewayError | undefined
}

export const decoder = (provider: string): Decoder => {
  let started = false
  let finish: string | null | undefined
  let sawFinish = false
  let sawToolCall = false
  let refusalOnly = true
  let sawText = false
  let usage: Usage | undefined
  let nextCanonical = 0
  /** OpenAI index → the call currently open at that index. */
  const open = new Map<number, OpenCall>()

  const closeAll = (out: Array<StreamEvent>) => {
    for (const call of open.values()) {
      if (!call.started) {
        // A call that never got its name: start it now so it is not lost.
        out.push(startOf(call, call.name ?? ""))
        if (call.pending !== "") out.push({ _tag: "tool_call_delta", index: call.canonical, arguments: call.pending })
      }
      out.push({ _tag: "tool_call_end", index: call.canonical })
    }
    open.clear()
  }

  const onFragment = (f: Wire.ToolCallFragment, out: Array<StreamEvent>) => {
    sawToolCall = true
    let call = open.get(f.index)
    // A new id at a used index is a new call (servers that number every call 0).
    if (call !== undefined && f.id != null && f.id !== "" && f.id !== call.id) {
      if (call.started) out.push({ _tag: "tool_call_end", index: call.canonical })
      open.delete(f.index)
      call = undefined
    }
    if (call === undefined) {
      call = {
        canonical: nextCanonical++,
        id: f.id || `call_${crypto.randomUUID().replace(/-/g, "").slice(0, 24)}`,
        name: undefined,
        pending: "",
        started: false,
        signature: undefined,
      }
      open.set(f.index, call)
    }
    if (f.function?.name) call.name = f.function.name
    const signature = f.extra_content?.google?.thought_signature
    if (signature !== undefined && signature !== "") call.signature = signature
    const args = f.function?.arguments ?? ""
    if (!call.started && call.name !== undefined) {
      call.started = true
      out.push(startOf(call, call.name))
      const first = call.pending + args
      call.pending = ""
      if (first !== "") out.push({ _tag: "tool_call_delta", index: call.canonical, arguments: first })
    } else if (call.started) {
      if (args !== "") out.push({ _tag: "tool_call_delta", index: call.canonical, arguments: args })
    } else call.pending += args
  }

  const onChunk = (c: Wire.ChatCompletionChunk, out: Array<StreamEvent>): void => {
    if (!started) {
      started = true
      out.push({ _tag: "start", id: c.id, model: c.model })
    }
    if (c.usage != null) usage = canonicalUsage(c.usage)
    const choice = c.choices.find((x) => x.index === 0)
    if (choice === undefined) return
    const d = choice.delta
    const reasoning = d.reasoning_content ?? d.reasoning
    if (reasoning) out.push({ _tag: "reasoning_delta", text: reasoning })
    if (d.content) {
      sawText = true
      refusalOnly = false
      out.push({ _tag: "text_delta", text: d.content })
    }
    if (d.refusal) {
      sawText = true
      out.push({ _tag: "text_delta", text: d.refusal })
    }
    for (const image of d.images ?? []) {
      const part = imagePart(image)
      if (part.source.kind === "base64") {
        sawText = true
        refusalOnly = false
        out.push({ _tag: "image", mediaType: part.source.mediaType, data: part.source.data })
      }
    }
    for (const f of d.tool_calls ?? []) onFragment(f, out)
    if (choice.finish_reason != null) {
      sawFinish = true
      finish = choice.finish_reason
      closeAll(out)
    }
  }

  const end = (out: Array<StreamEvent>): GatewayError | undefined => {
    if (!sawFinish) {
      return new Errors.UpstreamError({
        message: `provider "${provider}" ended the stream before a finish_reason`,
        status: 502,
        provider,
      })
    }
    let finishReason = canonicalFinish(finish, sawToolCall)
    if (finishReason === "stop" && sawText && refusalOnly) finishReason = "refusal"
    out.push({ _tag: "finish", finishReason, usage: usage ?? { inputTokens: 0, outputTokens: 0 } })
    return undefined
  }

  return { onChunk, end }
}

export const decode = (
  chunks: Stream.Stream<Wire.ChatCompletionChunk, GatewayError>,
  provider: string,
): Stream.Stream<StreamEvent, GatewayError> =>
  Chunked.transduce(chunks, () => {
    const d = decoder(provider)
    return {
      push: (input, out) => {
        for (const c of input) d.onChunk(c, out)
        return undefined
      },
      end: d.end,
    }
  })

const decodeChunk = decodeWith(Wire.ChatCompletionChunk)

/** Parse one upstream SSE data payload: a chunk, or the error it stands for (a mid-stream error frame, bad JSON). */
export const parseDataSync = (
  data: string,
  provider: string,
  secrets: ReadonlyArray<string>,
): Either.Either<Wire.ChatCompletionChunk, GatewayError> => {
  let json: unknown
  try {
    json = JSON.parse(data)
  } catch {
    return Either.left(
      new Errors.UpstreamError({
        message: `provider "${provider}" sent a stream frame that is not JSON`,
        status: 502,
        provider,
      }),
    )
  }
  if (isRecord(json) && json.error != null) return Either.left(ErrorCodec.fromStreamFrame(json, provider, secrets))
  const chunk = decodeChunk(json)
  return Either.isRight(chunk)
    ? Either.right(chunk.right)
    : Either.left(
        new Errors.UpstreamError({
          message: `provider "${provider}" sent a stream chunk this gateway cannot read (${chunk.left.path}: ${chunk.left.message})`,
          status: 502,
          provider,
        }),
      )
}

/** `parseDataSync` as an Effect. */
export const parseData = (
  data: string,
  provider: string,
  secrets: ReadonlyArray<string>,
): Effect.Effect<Wire.ChatCompletionChunk, GatewayError> => {
  const r = parseDataSync(data, provider, secrets)
  return Either.isRight(r) ? Effect.succeed(r.right) : Effect.fail(r.left)
}

/**
 * An upstream's SSE bytes → canonical events in one stage: framing, JSON, the chunk check and
 * the translation run in plain JS per incoming chunk. Reads to the end of the body: `[DONE]` is
 * skipped, not a reason to stop reading (stopping early aborts the upstream call).
 */
export const decodeSse = (
  bytes: Stream.Stream<Uint8Array, GatewayError>,
  provider: string,
  secrets: ReadonlyArray<string>,
): Stream.Stream<StreamEvent, GatewayError> => Chunked.transduce(bytes, sseTransducer(provider, secrets))

/** Upstream SSE bytes → canonical events, in plain JS per incoming chunk (a fresh state per call). */
export const sseTransducer =
  (provider: string, secrets: ReadonlyArray<string>) =>
  (): Chunked.Transducer<Uint8Array, StreamEvent, GatewayError> => {
    const sse = new Sse.Parser()
    const d = decoder(provider)
    const frames: Array<Sse.Event> = []
    let done = false
    const drain = (out: Array<StreamEvent>): GatewayError | undefined => {
      for (let i = 0; i < frames.length; i++) {
        const data = frames[i]!.data
        if (done) break
        if (data === "[DONE]") {
          done = true
          break
        }
        const chunk = parseDataSync(data, provider, secrets)
        if (Either.isLeft(chunk)) {
          frames.length = 0
          return chunk.left
        }
        d.onChunk(chunk.right, out)
      }
      frames.length = 0
      return undefined
    }
    return {
      push: (input, out) => {
        if (done) return undefined
        for (const b of input) sse.push(b, frames)
        return drain(out)
      },
      end: (out) => {
        if (!done) {
          sse.end(frames)
          const error = drain(out)
          if (error !== undefined) return error
        }
        return d.end(out)
      },
    }
  }
