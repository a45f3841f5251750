/**
 * The one rule for a model id a caller names (body `model`, Gemini's `models/{model}` path):
 * checked by every ingress when it decodes a request, before any middleware or upstream call,
 * and again by the terminal handler. An id that passes is inert wherever it goes next — a
 * provider's URL path (still encoded there), a response header, a log field, an allow-list match.
 *
 * - 1 to 256 characters from `A-Z a-z 0-9 . _ - / : @ + ~` (ASCII only: no control characters,
 *   CR/LF, spaces, non-Latin-1, `%`, `?`, `#`, `\`, quotes or `*`);
 * - `/`-separated segments, none empty and none `.` or `..` (no path can climb out of its place).
 */
import { Either, Schema } from "effect"
import { Errors } from "@sluice/schema"

export const maxLength = 256

const charset = /^[A-Za-z0-9._\-/:@+~]+$/

/** Why `id` is not a valid model id, or undefined when it is. */
export const problem = (id: string): string | undefined => {
  if (id.length === 0) return "must not be empty"
  if (id.length > maxLength) return `must be at most ${maxLength} characters`
  if (!charset.test(id)) return "may contain only letters, digits and . _ - / : @ + ~"
  for (const segment of id.split("/")) {
    if (segment === "") return "must not have an empty segment (a leading, trailing or doubled /)"
    if (segment === "." || segment === "..") return 'must not have a "." or ".." segment'
  }
  return undefined
}

export const isValid = (id: string): boolean => problem(id) === undefined

/** A 400 naming `param` (the client's own name for the field), never echoing the value. */
export const invalid = (reason: string, param = "model"): Errors.InvalidRequest =>
  new Errors.InvalidRequest({ message: `invalid ${param}: a model id ${reason}`, param })

/** The id itself, or the 400 that names the field. */
export const check = (id: string, param = "model"): Either.Either<string, Errors.InvalidRequest> => {
  const reason = problem(id)
  return reason === undefined ? Either.right(id) : Either.left(invalid(reason, param))
}

/** A string Schema that keeps the rule, for wire schemas decoded at the edge. */
export const ModelIdSchema = Schema.String.pipe(
  Schema.filter((s) => {
    const reason = problem(s)
    return reason === undefined ? true : `a model id ${reason}`
  }),
)
