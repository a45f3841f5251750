/**
 * The audio routes: `POST /v1/audio/speech` (JSON; the audio bytes, or with `stream_format:
 * "sse"` `speech.audio.delta` events then `speech.audio.done`) and `POST
 * /v1/audio/transcriptions` (multipart, read under `transcriptionBodyLimit`). Each becomes a
 * canonical Chat (AudioCodec), so any route whose model speaks or listens serves it: an OpenAI
 * speech or transcription model as is, Gemini TTS and Gemini audio understanding by
 * translation, the mock.
 */
import { Effect, Stream } from "effect"
import { Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import { Audio, Collect, type HandlerFn, Ingress, type Ingress as IngressT, Peek } from "@sluice/core"
import * as AudioCodec from "./AudioCodec.ts"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as Multipart from "./Multipart.ts"

type Reply = IngressT.Reply

/** OpenAI takes audio files up to 25 MB; the form around the file gets a little more room. */
export const transcriptionFileLimit = 25 * 1024 * 1024
export const transcriptionBodyLimit = transcriptionFileLimit + 64 * 1024

const unexpected = (tag: string) =>
  Effect.fail(new Errors.Internal({ message: `the gateway answered ${tag} to an audio request` }))

const whole = (request: IngressT.IngressRequest, handler: HandlerFn, chat: AudioCodec.Speech["chat"]) =>
  Effect.gen(function* () {
    const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat })
    const complete =
      response._tag === "Chat"
        ? response.chat
        : response._tag === "ChatStream"
          ? yield* Collect.collect(response.events)
          : yield* unexpected(response._tag)
    return { complete, headers: response.headers }
  })

/** The audio events as `speech.audio.delta` frames in the asked format, then `speech.audio.done`. */
const speechEvents = (
  events: Stream.Stream<StreamEvent, GatewayError>,
  format: AudioCodec.SpeechFormat,
): Stream.Stream<string> => {
  let headerSent = false
  const frame = (o: object) => Ingress.sseFrame(JSON.stringify(o))
  return events.pipe(
    Stream.mapEffect((e): Effect.Effect<string, GatewayError> => {
      if (e._tag === "image" && e.mediaType.startsWith("audio/")) {
        let bytes: Uint8Array = Buffer.from(e.data, "base64")
        // PCM chunks: raw for `pcm`; for `wav`, the first chunk opens with a header of unknown length.
        if (Audio.isPcm(e.mediaType) && (format === "pcm" || format === "wav")) {
          if (format === "wav" && !headerSent) {
            const h = Audio.wavHeader(undefined, Audio.rateOf(e.mediaType))
            const joined = new Uint8Array(h.length + bytes.length)
            joined.set(h, 0)
            joined.set(bytes, h.length)
            bytes = joined
          }
          headerSent = true
          return Effect.succeed(frame({ type: "speech.audio.delta", audio: Buffer.from(bytes).toString("base64") }))
        }
        return Effect.map(AudioCodec.convert(e.mediaType, bytes, format), (b) =>
          frame({ type: "speech.audio.delta", audio: Buffer.from(b).toString("base64") }),
        )
      }
      if (e._tag === "finish") {
        const usage = {
          input_tokens: e.usage.inputTokens,
          output_tokens: e.usage.outputTokens,
          total_tokens: e.usage.inputTokens + e.usage.outputTokens,
        }
        return Effect.succeed(frame({ type: "speech.audio.done", usage }))
      }
      return Effect.succeed("")
    }),
    Stream.filter((s) => s !== ""),
    Stream.catchAll((e) => Stream.make(frame({ type: "error", error: ErrorCodec.errorObject(e) }))),
  )
}

/**
 * The answer's audio as bytes in the asked format: chunk by chunk as they arrive when the model
 * already speaks that format, else whole once it is complete (PCM → WAV needs the length).
 */
const audioBytes = (
  events: Stream.Stream<StreamEvent, GatewayError>,
  format: AudioCodec.SpeechFormat,
): Stream.Stream<Uint8Array, GatewayError> => {
  let mode: "pass" | "whole" | undefined
  let mediaType = ""
  const held: Array<Uint8Array> = []
  const head = events.pipe(
    Stream.mapConcat((e): Array<Uint8Array> => {
      if (e._tag !== "image" || !e.mediaType.startsWith("audio/")) return []
      const bytes = new Uint8Array(Buffer.from(e.data, "base64"))
      if (mode === undefined) {
        mediaType = e.mediaType
        mode = AudioCodec.passes(mediaType, format) ? "pass" : "whole"
      }
      if (mode === "pass") return [bytes]
      held.push(bytes)
      return []
    }),
  )
  const tail = Stream.suspend(() =>
    mode === "whole"
      ? Stream.fromEffect(AudioCodec.convert(mediaType, Buffer.concat(held), format))
      : mode === undefined
        ? Stream.fail(new Errors.UpstreamError({ message: "the model answered without audio", status: 502 }))
        : Stream.empty,
  )
  return Stream.concat(head, tail)
}

export const routes = (answer: (effect: Effect.Effect<Reply, GatewayError>) => Effect.Effect<Reply>) => {
  const speech: IngressT.Route = {
    method: "POST",
    path: "/v1/audio/speech",
    handle: (request, handler) =>
      answer(
        Effect.gen(function* () {
          const decoded = yield* AudioCodec.decodeSpeech(yield* request.json)
          const response = yield* handler({ _tag: "Chat", ctx: request.ctx, chat: decoded.chat })
          const events = Collect.eventsOfAnswer(response) ?? (yield* unexpected(response._tag))
          if (decoded.sse) {
            return {
              _tag: "Stream",
              status: 200,
              contentType: "text/event-stream; charset=utf-8",
              headers: response.headers,
              body: speechEvents(events, decoded.format),
            } satisfies Reply
          }
          // The first bytes decide the status: a failure before them is an error answer.
          const peeked = yield* Peek.peek(audioBytes(events, decoded.format))
          if (peeked._tag === "Failed") return yield* Effect.fail(peeked.error)
          return {
            _tag: "Stream",
            status: 200,
            contentType: AudioCodec.speechMediaType[decoded.format],
            headers: response.headers,
            // A failure after the first bytes can only end the body early.
            body: Stream.catchAll(peeked.stream, (e) =>
              Stream.fromEffect(Effect.as(Effect.logWarning(`audio/speech: the audio broke off (${e._tag})`), "")).pipe(
                Stream.drain,
              ),
            ),
          } satisfies Reply
        }),
      ),
  }
  const transcriptions: IngressT.Route = {
    method: "POST",
    path: "/v1/audio/transcriptions",
    handle: (request, handler) =>
      answer(
        Effect.gen(function* () {
          const bytes = yield* request.bytes(transcriptionBodyLimit)
          const form = yield* Multipart.parse(bytes, request.headers["content-type"])
          const file = form.get("file")
          if (file !== null && typeof file !== "string" && file.size > transcriptionFileLimit)
            return yield* Effect.fail(
              new Errors.PayloadTooLarge({
                message: `the audio file exceeds the limit of ${transcriptionFileLimit} bytes`,
              }),
            )
          const decoded = yield* AudioCodec.decodeTranscription(form)
          const { complete, headers } = yield* whole(request, handler, decoded.chat)
          const out = yield* AudioCodec.encodeTranscription(complete, decoded)
          if (typeof out.body === "string")
            return {
              _tag: "Stream",
              status: 200,
              contentType: out.contentType,
              headers,
              body: Stream.make(out.body),
            } satisfies Reply
          return { _tag: "Json", status: 200, body: out.body, headers } satisfies Reply
        }),
      ),
  }
  return [speech, transcriptions]
}
