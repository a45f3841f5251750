/**
 * Reading a request body as JSON under a byte limit. The limit is checked against
 * content-length first (no bytes read) and then while streaming, so an oversized body is refused
 * without buffering it whole. Invalid UTF-8, malformed JSON and JSON nested deeper than
 * `maxDepth` are InvalidRequest errors.
 */
import * as Http from "node:http"
import type { HttpServerRequest } from "@effect/platform"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Effect, Stream } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"

const decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * Deeper than any real request (serde_json's default limit too). Decoders and error formatters
 * recurse over the value, so an absurdly deep body would otherwise overflow the stack.
 */
export const maxDepth = 128

/** True when the JSON text in `bytes` opens more than `max` nested arrays/objects (strings skipped). */
export const nestsDeeperThan = (bytes: Uint8Array, max: number): boolean => {
  // Each level takes at least one byte to open and one to close.
  if (bytes.length <= 2 * max) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    if (inString) {
      if (b === 0x5c) i++
      else if (b === 0x22) inString = false
    } else if (b === 0x22) inString = true
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) return true
    } else if (b === 0x7d || b === 0x5d) depth--
  }
  return false
}

const tooLarge = (limit: number) =>
  new Errors.PayloadTooLarge({ message: `request body exceeds the limit of ${limit} bytes` })

const acceptable = (contentType: string | undefined) =>
  contentType === undefined ||
  contentType === "" ||
  contentType.includes("json") ||
  contentType.startsWith("text/plain")

/** Where a body comes from: a platform request, or node:http's request itself (the server's fast path). */
export type Source = HttpServerRequest.HttpServerRequest | Http.IncomingMessage

const headerOf = (request: Source, name: string): string | undefined => {
  const value = (request.headers as Readonly<Record<string, string | ReadonlyArray<string> | undefined>>)[name]
  return typeof value === "string" ? value : undefined
}

export const readJson = (request: Source, limit: number): Effect.Effect<unknown, GatewayError> =>
  Effect.suspend(() => {
    const contentType = headerOf(request, "content-type")
    if (!acceptable(contentType)) {
      return Effect.fail(
        new Errors.InvalidRequest({ message: `expected Content-Type application/json, got "${contentType}"` }),
      )
    }
    const declared = Number(headerOf(request, "content-length") ?? Number.NaN)
    if (declared > limit) return Effect.fail(tooLarge(limit))
    return Effect.flatMap(collect(request, limit), ({ size, chunks }): Effect.Effect<unknown, GatewayError> => {
      if (size > limit) return Effect.fail(tooLarge(limit))
      if (size === 0)
        return Effect.fail(new Errors.InvalidRequest({ message: "the request body is empty; expected JSON" }))
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      if (nestsDeeperThan(bytes, maxDepth))
        return Effect.fail(
          new Errors.InvalidRequest({ message: `the request body nests JSON deeper than ${maxDepth} levels` }),
        )
      let text: string
      try {
        text = decoder.decode(bytes)
      } catch {
        return Effect.fail(new Errors.InvalidRequest({ message: "the request body is not valid UTF-8" }))
      }
      try {
        return Effect.succeed(JSON.parse(text) as unknown)
      } catch (e) {
        return Effect.fail(
          new Errors.InvalidRequest({ message: `the request body is not valid JSON: ${(e as Error).message}` }),
        )
      }
    })
  })

/** The body's bytes under a limit (content-length checked first), whatever its content type. */
export const readBytes = (request: Source, limit: number): Effect.Effect<Uint8Array, GatewayError> =>
  Effect.suspend(() => {
    const declared = Number(headerOf(request, "content-length") ?? Number.NaN)
    if (declared > limit) return Effect.fail(tooLarge(limit))
    return Effect.flatMap(
      collect(request, limit),
      ({ size, chunks }): Effect.Effect<Uint8Array, GatewayError> =>
        size > limit
          ? Effect.fail(tooLarge(limit))
          : Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
    )
  })

interface Collected {
  readonly size: number
  readonly chunks: Array<Uint8Array>
}

const unreadable = () => new Errors.InvalidRequest({ message: "the request body could not be read" })

/** The Node request behind a request, when there is one (not for web `Request`s). */
const nodeSource = (request: Source): Http.IncomingMessage | undefined => {
  if (request instanceof Http.IncomingMessage) return request
  const source: unknown = NodeHttpServerRequest.toIncomingMessage(request)
  return source instanceof Http.IncomingMessage ? source : undefined
}

const collect = (request: Source, limit: number): Effect.Effect<Collected, GatewayError> => {
  const source = nodeSource(request)
  return source === undefined
    ? collectStream(request as HttpServerRequest.HttpServerRequest, limit)
    : collectNode(source, limit)
}

/**
 * Past the limit, keep draining (discarding) so the client can read our 413 on a live
 * connection; only an absurd body (8× the limit) is cut off mid-upload.
 */
const collectStream = (request: HttpServerRequest.HttpServerRequest, limit: number) => {
  let size = 0
  const chunks: Array<Uint8Array> = []
  return request.stream.pipe(
    Stream.mapError(unreadable),
    Stream.runForEach((chunk) => {
      size += chunk.byteLength
      if (size > limit * 8) return Effect.fail(tooLarge(limit))
      if (size <= limit) chunks.push(chunk)
      return Effect.void
    }),
    Effect.map((): Collected => ({ size, chunks })),
  )
}

/**
 * The same, straight from node:http's events: the hot path of every request, where a
 * platform Stream per body costs more than the rest of the body handling together.
 */
const collectNode = (source: Http.IncomingMessage, limit: number) =>
  Effect.async<Collected, GatewayError>((resume) => {
    let size = 0
    const chunks: Array<Uint8Array> = []
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("close", onClose)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > limit * 8) {
        cleanup()
        source.destroy()
        resume(Effect.fail(tooLarge(limit)))
      } else if (size <= limit) chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed({ size, chunks }))
    }
    const onError = () => {
      cleanup()
      resume(Effect.fail(unreadable()))
    }
    // Closed before the end: the client went away mid-upload.
    const onClose = () => {
      if (source.complete) return
      cleanup()
      resume(Effect.fail(unreadable()))
    }
    // Already read to the end (a second read): nothing left, as with the platform's stream.
    if (source.readableEnded) {
      resume(Effect.succeed({ size, chunks }))
      return
    }
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    source.on("close", onClose)
    // Interrupted (the client disconnected): stop reading.
    return Effect.sync(() => {
      cleanup()
      if (!source.readableEnded) source.destroy()
    })
  })
