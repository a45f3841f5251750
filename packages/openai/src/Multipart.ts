/**
 * multipart/form-data bodies (images.edit, files.create), parsed with the web platform's own
 * parser (`Response.formData()`) after the body was read under its byte limit.
 */
import { Effect } from "effect"
import { Errors, type GatewayError } from "@sluice/schema"

/** Parse `bytes` as the multipart form its `content-type` announces. */
export const parse = (bytes: Uint8Array, contentType: string | undefined): Effect.Effect<FormData, GatewayError> => {
  if (contentType === undefined || !/^multipart\/form-data\s*;\s*boundary=/i.test(contentType))
    return Effect.fail(
      new Errors.InvalidRequest({ message: "expected a multipart/form-data body with a boundary (Content-Type)" }),
    )
  return Effect.tryPromise({
    try: () => new Response(new Uint8Array(bytes), { headers: { "content-type": contentType } }).formData(),
    catch: () => new Errors.InvalidRequest({ message: "the multipart/form-data body is malformed" }),
  })
}

/** A form field's text value, or undefined; a file where text belongs is an error naming it. */
export const text = (form: FormData, name: string): Effect.Effect<string | undefined, GatewayError> => {
  const v = form.get(name)
  if (v === null) return Effect.succeed(undefined)
  if (typeof v !== "string")
    return Effect.fail(new Errors.InvalidRequest({ message: `'${name}' must be a text field`, param: name }))
  return Effect.succeed(v)
}

/** The files sent under `name` (and `name[]`, as openai-node sends arrays). */
export const files = (form: FormData, name: string): Array<File> =>
  [...form.getAll(name), ...form.getAll(`${name}[]`)].filter((v): v is File => typeof v !== "string")

const sniff = (b: Uint8Array): string | undefined => {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png"
  if (b[0] === 0xff && b[1] === 0xd8) return "image/jpeg"
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57) return "image/webp"
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return "image/gif"
  return undefined
}

/** A file's bytes as base64 with its media type: the declared one, else sniffed from the bytes. */
export const base64Of = (file: File): Effect.Effect<{ mediaType: string; data: string; bytes: Uint8Array }> =>
  Effect.promise(async () => {
    const bytes = new Uint8Array(await file.arrayBuffer())
    const declared = file.type.split(";")[0]!.trim()
    const mediaType =
      declared !== "" && declared !== "application/octet-stream"
        ? declared
        : (sniff(bytes) ?? "application/octet-stream")
    return { mediaType, data: Buffer.from(bytes).toString("base64"), bytes }
  })
