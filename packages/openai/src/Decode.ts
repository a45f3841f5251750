/**
 * Decoding at the edge: a wire value against its Schema, with the first problem reported as a
 * field path (`messages[2].content[0].image_url.url`) — what a client needs to fix its request.
 */
import { Either, ParseResult, Schema } from "effect"
import { Errors } from "@sluice/schema"
import { Echo } from "@sluice/core"

export interface Problem {
  /** `messages[0].role`, or "" for the whole body. */
  readonly path: string
  readonly message: string
}

export const formatPath = (path: ReadonlyArray<PropertyKey>, prefix = ""): string =>
  path.reduce<string>(
    (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`),
    prefix,
  )

/**
 * The most specific issue: a union reports one issue per member, and the deepest path is the
 * member the value was meant to be (by its discriminator).
 */
const mostSpecific = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>) => {
  let best = issues[0]
  for (const i of issues) if (best === undefined || i.path.length > best.path.length) best = i
  return best
}

export const decode = <A, I>(schema: Schema.Schema<A, I>, prefix = "") => {
  // Built once per schema: stopping at the first issue is the fast path for a valid value, and
  // only a value that fails is decoded again collecting every issue, to name the best one.
  const first = Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve" })
  const all = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "preserve" })
  return (input: unknown): Either.Either<A, Problem> => {
    const quick = first(input)
    if (Either.isRight(quick)) return Either.right(quick.right)
    const result = all(input)
    if (Either.isRight(result)) return Either.right(result.right)
    const issue = mostSpecific(ParseResult.ArrayFormatter.formatErrorSync(result.left))
    if (issue === undefined) return Either.left({ path: prefix, message: "invalid value" })
    return Either.left({
      // Paths may hold a caller's record keys and messages quote the value: both are capped.
      path: Echo.cap(formatPath(issue.path, prefix), 200),
      message: issue._tag === "Missing" ? "is required" : Echo.capDecodeMessage(issue.message),
    })
  }
}

/** A Problem in a client's request: a 400 naming the field. */
export const invalid = (p: Problem): Errors.InvalidRequest =>
  p.path === ""
    ? new Errors.InvalidRequest({ message: `invalid request body: ${p.message}` })
    : new Errors.InvalidRequest({ message: `invalid value for ${p.path}: ${p.message}`, param: p.path })

/** A client-facing complaint about one field. */
export const badField = (param: string, message: string): Errors.InvalidRequest =>
  new Errors.InvalidRequest({ message: `${param}: ${message}`, param })

export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Fields of a JSON body that a schema does not know, kept so a same-format upstream gets them. */
export const unknownFields = (
  body: unknown,
  known: ReadonlySet<string>,
  skip: ReadonlyArray<string> = [],
): Record<string, unknown> | undefined => {
  if (!isRecord(body)) return undefined
  let out: Record<string, unknown> | undefined
  for (const [k, v] of Object.entries(body)) {
    if (known.has(k) || skip.includes(k) || v === undefined) continue
    out ??= {}
    out[k] = v
  }
  return out
}

/** Drop keys whose value is undefined (exactOptionalPropertyTypes: absent, not undefined). */
export const compact = <T extends object>(o: { [K in keyof T]: T[K] | undefined }): T => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as T
}
