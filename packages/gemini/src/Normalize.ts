/**
 * Google's proto-JSON parser accepts both the camelCase and the snake_case spelling of every
 * field (`system_instruction`, `generation_config`, `inline_data`, `mime_type`, …): curl users and
 * some SDKs send the latter. The wire Schemas are written once in camelCase, so bodies are
 * normalised first. Free-form values (function arguments and responses, JSON Schemas, property
 * names, enum values) are data, not proto fields, and are never renamed.
 */

const snake = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$/

export const camel = (key: string): string =>
  snake.test(key) ? key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : key

/** Values under these (camelCase) keys are user data: copied as they are. */
const opaque = new Set([
  "args",
  "parametersJsonSchema",
  "responseJsonSchema",
  "labels",
  "default",
  "example",
  "enum",
  "partMetadata",
  "metadata",
])

const walk = (value: unknown, parentKey: string): unknown => {
  if (Array.isArray(value)) return value.map((v) => walk(v, parentKey))
  if (typeof value !== "object" || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [rawKey, v] of Object.entries(value)) {
    const key = camel(rawKey)
    // A later camelCase spelling of the same field wins over an earlier snake_case one.
    if (key !== rawKey && key in (value as Record<string, unknown>)) continue
    if (opaque.has(key) || (key === "response" && parentKey === "functionResponse")) out[key] = v
    else if (key === "properties" && typeof v === "object" && v !== null && !Array.isArray(v)) {
      // A Schema's `properties` is a map: its keys are the user's property names.
      out[key] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, walk(s, "properties")]))
    } else out[key] = walk(v, key)
  }
  return out
}

/** A request body with every proto field spelled in camelCase. */
export const request = (body: unknown): unknown => walk(body, "")
