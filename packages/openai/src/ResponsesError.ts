/**
 * Errors of the stored-responses endpoints that OpenAI gives a `code` or a `param` the
 * canonical errors do not carry (`previous_response_not_found`, `response_id`). Ids in
 * messages are echoed only once they passed `ResponseStore.validId`.
 */
import { Data } from "effect"
import type { Ingress } from "@sluice/core"

export class ResponsesError extends Data.TaggedError("ResponsesError")<{
  readonly status: 400 | 404
  readonly message: string
  readonly param: string | null
  readonly code: string | null
}> {}

export const reply = (e: ResponsesError): Ingress.Reply => ({
  _tag: "Json",
  status: e.status,
  body: { error: { message: e.message, type: "invalid_request_error", param: e.param, code: e.code } },
})

export const invalidId = (param: string) =>
  new ResponsesError({
    status: 400,
    message: `Invalid '${param}': expected an ID of at most 128 letters, numbers, underscores or dashes.`,
    param,
    code: "invalid_value",
  })

export const previousNotFound = (id: string, missing: string) =>
  new ResponsesError({
    status: 400,
    message:
      missing === id
        ? `Previous response with id '${id}' not found.`
        : `Previous response with id '${id}' not found: '${missing}', an earlier response of its conversation, has expired or was deleted.`,
    param: "previous_response_id",
    code: "previous_response_not_found",
  })

export const itemNotFound = (id: string, param: string) =>
  new ResponsesError({
    status: 400,
    message: `Item with id '${id}' not found. Items are not kept when \`store\` is false, nor after the response that holds them expired or was deleted.`,
    param,
    code: null,
  })

export const responseNotFound = (id: string) =>
  new ResponsesError({
    status: 404,
    message: `No response found with id '${id}'.`,
    param: "response_id",
    code: null,
  })
