/**
 * Streams both ways. `toChunks`: canonical events → GenerateContentResponse chunks as Gemini
 * streams them (only new parts per chunk; a functionCall whole in one chunk, so argument
 * deltas from other providers are gathered until `tool_call_end`; finishReason and the final
 * usageMetadata on the last chunk). `fromChunks`: a Gemini upstream's chunks → canonical events.
 */
import { Effect, Either, Stream } from "effect"
import { Errors, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"
import * as GParts from "./Parts.ts"
import * as Response from "./Response.ts"
import type * as Wire from "./Wire.ts"

type Json = Record<string, unknown>

// ---- canonical → Gemini -----------------------------------------------------------------------

interface PendingCall {
  readonly id: string
  readonly name: string
  readonly signature: string | undefined
  args: string
}

interface EncodeState {
  id: string
  model: string
  usage: Usage | undefined
  readonly calls: Map<number, PendingCall>
  /** A functionCall chunk held back so the finish can ride on it, as Gemini sends it. */
  held: Json | undefined
}

const chunk = (s: EncodeState, parts: Array<GParts.WirePart> | undefined, finishReason?: string): Json => {
  const candidate: Json = {}
  if (parts !== undefined) candidate.content = { parts, role: "model" }
  if (finishReason !== undefined) candidate.finishReason = finishReason
  candidate.index = 0
  const out: Json = { candidates: [candidate] }
  if (s.usage !== undefined) out.usageMetadata = Response.usageToGemini(s.usage)
  out.modelVersion = s.model
  out.responseId = s.id
  return out
}

const callChunk = (s: EncodeState, call: PendingCall): Either.Either<Json, GatewayError> => {
  const args = GParts.argsOf(call.args)
  if (Either.isLeft(args))
    return Either.left(
      new Errors.UpstreamError({ message: `the model's call of "${call.name}": ${args.left}`, status: 502 }),
    )
  const id = GParts.wireId(call.id)
  const part: GParts.WirePart = {
    functionCall: id === undefined ? { name: call.name, args: args.right } : { id, name: call.name, args: args.right },
  }
  if (call.signature !== undefined) part.thoughtSignature = call.signature
  return Either.right(chunk(s, [part]))
}

const step = (s: EncodeState, e: StreamEvent): Either.Either<Array<Json>, GatewayError> => {
  const out: Array<Json> = []
  if (s.held !== undefined && e._tag !== "finish" && e._tag !== "usage") {
    out.push(s.held)
    s.held = undefined
  }
  switch (e._tag) {
    case "start":
      s.id = e.id
      s.model = e.model
      break
    case "text_delta":
      if (e.text === "" && e.signature === undefined) break
      out.push(
        chunk(s, [e.signature === undefined ? { text: e.text } : { text: e.text, thoughtSignature: e.signature }]),
      )
      break
    case "reasoning_delta":
      if (e.text === "" && e.signature === undefined) break
      out.push(
        chunk(s, [
          e.signature === undefined
            ? { text: e.text, thought: true }
            : { text: e.text, thought: true, thoughtSignature: e.signature },
        ]),
      )
      break
    case "image":
      out.push(
        chunk(s, [
          e.signature === undefined
            ? { inlineData: { mimeType: e.mediaType, data: e.data } }
            : { inlineData: { mimeType: e.mediaType, data: e.data }, thoughtSignature: e.signature },
        ]),
      )
      break
    case "tool_call_start":
      s.calls.set(e.index, { id: e.id, name: e.name, signature: e.signature, args: "" })
      break
    case "tool_call_delta": {
      const call = s.calls.get(e.index)
      if (call !== undefined) call.args += e.arguments
      break
    }
    case "tool_call_end": {
      const call = s.calls.get(e.index)
      if (call === undefined) break
      s.calls.delete(e.index)
      const c = callChunk(s, call)
      if (Either.isLeft(c)) return Either.left(c.left)
      s.held = c.right
      break
    }
    case "usage":
      s.usage = e.usage
      break
    case "finish": {
      s.usage = e.usage
      // Calls a provider never closed are complete now.
      for (const call of [...s.calls.values()]) {
        const c = callChunk(s, call)
        if (Either.isLeft(c)) return Either.left(c.left)
        if (s.held !== undefined) out.push(s.held)
        s.held = c.right
      }
      s.calls.clear()
      const reason = Response.finishToGemini(e.finishReason)
      if (s.held !== undefined) {
        const held = s.held as { candidates: Array<Json> }
        out.push({
          ...chunk(s, (held.candidates[0]!.content as { parts: Array<GParts.WirePart> }).parts, reason),
        })
        s.held = undefined
      } else out.push(chunk(s, reason === "SAFETY" ? undefined : [{ text: "" }], reason))
      break
    }
  }
  return Either.right(out)
}

/** Canonical events → Gemini chunks (objects, framed by the ingress). */
export const toChunks = <R>(
  events: Stream.Stream<StreamEvent, GatewayError, R>,
): Stream.Stream<Json, GatewayError, R> =>
  Stream.suspend(() => {
    const state: EncodeState = { id: "", model: "", usage: undefined, calls: new Map(), held: undefined }
    return events.pipe(
      Stream.mapEffect((e) => step(state, e)),
      Stream.flattenIterables,
    )
  })

// ---- Gemini → canonical -----------------------------------------------------------------------

class Decoder {
  private started = false
  private toolIndex = 0
  private finish: string | undefined
  private blocked = false
  private usage: Wire.UsageMetadata | undefined
  private readonly prefix = Response.callIdPrefix()
  constructor(private readonly model: string) {}

  step(c: Wire.GenerateContentResponse): Array<StreamEvent> {
    const out: Array<StreamEvent> = []
    if (!this.started) {
      this.started = true
      out.push({ _tag: "start", id: c.responseId ?? `${this.prefix}resp`, model: c.modelVersion ?? this.model })
    }
    if (c.usageMetadata !== undefined) this.usage = c.usageMetadata
    if (c.promptFeedback?.blockReason !== undefined && (c.candidates ?? []).length === 0) this.blocked = true
    const candidate = c.candidates?.[0]
    for (const p of candidate?.content?.parts ?? []) {
      const sig = p.thoughtSignature
      if (p.functionCall !== undefined) {
        const index = this.toolIndex++
        const id = p.functionCall.id ?? `${this.prefix}${index}`
        out.push(
          sig === undefined
            ? { _tag: "tool_call_start", index, id, name: p.functionCall.name }
            : { _tag: "tool_call_start", index, id, name: p.functionCall.name, signature: sig },
        )
        out.push({ _tag: "tool_call_delta", index, arguments: JSON.stringify(p.functionCall.args ?? {}) })
        out.push({ _tag: "tool_call_end", index })
      } else if (p.inlineData !== undefined) {
        // An image model's picture (thought images are interim drafts: skipped).
        if (p.thought === true) continue
        const { mimeType, data } = p.inlineData
        out.push(
          sig === undefined
            ? { _tag: "image", mediaType: mimeType, data }
            : { _tag: "image", mediaType: mimeType, data, signature: sig },
        )
      } else if (GParts.codeText(p) !== undefined) {
        out.push({ _tag: "text_delta", text: GParts.codeText(p)! })
      } else if (p.text !== undefined || sig !== undefined) {
        const text = p.text ?? ""
        if (text === "" && sig === undefined) continue
        const tag = p.thought === true ? "reasoning_delta" : "text_delta"
        out.push(sig === undefined ? { _tag: tag, text } : { _tag: tag, text, signature: sig })
      }
    }
    if (candidate?.finishReason !== undefined) this.finish = candidate.finishReason
    return out
  }

  end(): Either.Either<StreamEvent, GatewayError> {
    if (this.finish === undefined && !this.blocked)
      return Either.left(
        new Errors.UpstreamError({ message: "the Gemini stream ended without a finishReason", status: 502 }),
      )
    return Either.right({
      _tag: "finish",
      finishReason: this.blocked ? "content_filter" : Response.finishFromGemini(this.finish, this.toolIndex > 0),
      usage: Response.usageFromGemini(this.usage),
    })
  }
}

/** A fresh decoder for one stream: `step` per Gemini chunk, `end` once it is over. */
export const decoder = (model: string) => new Decoder(model)

/** Gemini chunks → canonical events, ending with `finish` (or an error if the stream was cut). */
export const fromChunks = <R>(
  chunks: Stream.Stream<Wire.GenerateContentResponse, GatewayError, R>,
  model: string,
): Stream.Stream<StreamEvent, GatewayError, R> =>
  Stream.suspend(() => {
    const decoder = new Decoder(model)
    return chunks.pipe(
      Stream.mapConcat((c) => decoder.step(c)),
      Stream.concat(Stream.fromEffect(Effect.suspend(() => decoder.end()))),
    )
  })
