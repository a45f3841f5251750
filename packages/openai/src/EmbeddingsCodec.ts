/**
 * Embeddings, both ways. The official SDK asks for `encoding_format: "base64"` unless told
 * otherwise and decodes little-endian float32 from it, so the ingress must honour base64.
 */
import { Either } from "effect"
import { type EmbedRequest, type EmbedResponse, Errors } from "@sluice/schema"
import { badField, compact, decode as decodeWith, invalid, unknownFields } from "./Decode.ts"
import * as Wire from "./Wire.ts"

/** Built once: a decoder per call would build the schema's parser every time. */
const decodeEmbeddingRequest = decodeWith(Wire.EmbeddingRequest)

export interface Decoded {
  readonly embed: EmbedRequest
  readonly encoding: "float" | "base64"
}

const allStrings = (a: ReadonlyArray<unknown>): a is ReadonlyArray<string> => a.every((x) => typeof x === "string")

/** A client's embeddings body → canonical. Token-id inputs are refused by name. */
export const decode = (body: unknown): Either.Either<Decoded, Errors.InvalidRequest> =>
  Either.gen(function* () {
    const w = yield* Either.mapLeft(decodeEmbeddingRequest(body), invalid)
    const inputs = typeof w.input === "string" ? [w.input] : w.input
    if (!allStrings(inputs)) {
      return yield* Either.left(badField("input", "token-id arrays are not supported by this gateway; send text"))
    }
    if (inputs.length === 0) return yield* Either.left(badField("input", "must contain at least one string"))
    const extras = unknownFields(body, Wire.embeddingFields)
    const embed = compact<EmbedRequest>({
      model: w.model,
      inputs,
      dimensions: w.dimensions ?? undefined,
      extras:
        extras === undefined && w.user == null
          ? undefined
          : { openai: { ...extras, ...(w.user ? { user: w.user } : {}) } },
    })
    return { embed, encoding: w.encoding_format ?? "float" }
  })

/** Float32 little-endian, base64: what `encoding_format: "base64"` means. */
export const toBase64 = (vector: ReadonlyArray<number>): string => {
  const buf = Buffer.alloc(vector.length * 4)
  for (const [i, v] of vector.entries()) buf.writeFloatLE(v, i * 4)
  return buf.toString("base64")
}

export const fromBase64 = (data: string): Array<number> => {
  const buf = Buffer.from(data, "base64")
  const out: Array<number> = []
  for (let i = 0; i + 4 <= buf.length; i += 4) out.push(buf.readFloatLE(i))
  return out
}

export const encode = (r: EmbedResponse, encoding: "float" | "base64"): Wire.EmbeddingResponse => ({
  object: "list",
  data: r.embeddings.map((e, index) => ({
    object: "embedding",
    index,
    embedding: encoding === "base64" ? toBase64(e) : e,
  })),
  model: r.model,
  usage: { prompt_tokens: r.usage.inputTokens, total_tokens: r.usage.inputTokens },
})

/** Canonical → the body for an upstream (floats: no precision lost to float32). */
export const encodeRequest = (r: EmbedRequest): Record<string, unknown> => ({
  ...r.extras?.openai,
  ...compact<Wire.EmbeddingRequest>({
    model: r.model,
    input: r.inputs,
    dimensions: r.dimensions,
    encoding_format: "float",
  }),
})

/** An upstream's embeddings answer → canonical, in input order. */
export const decodeResponse = (
  w: Wire.EmbeddingResponse,
  expected: number,
  provider: string,
): Either.Either<EmbedResponse, Errors.UpstreamError> => {
  const sorted = [...w.data].sort((a, b) => a.index - b.index)
  if (sorted.length !== expected) {
    return Either.left(
      new Errors.UpstreamError({
        message: `provider "${provider}" returned ${sorted.length} embeddings for ${expected} inputs`,
        status: 502,
        provider,
      }),
    )
  }
  return Either.right({
    model: w.model,
    embeddings: sorted.map((d) => (typeof d.embedding === "string" ? fromBase64(d.embedding) : d.embedding)),
    usage: { inputTokens: w.usage?.prompt_tokens ?? 0 },
  })
}
