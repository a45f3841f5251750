/**
 * JSON Schema (what OpenAI and Anthropic clients put in tool parameters) ⇄ Gemini's `Schema`
 * (the OpenAPI 3.0 subset `parameters` / `responseSchema` accept). Gemini answers 400 "Unknown
 * name" for any keyword outside its subset, so `toGemini` inlines `$ref`s, maps what has a Gemini
 * spelling (`type: [t, "null"]` and `anyOf [X, null]` → `nullable`, `const` → `enum`, `examples` →
 * `example`) and drops the rest. `fromGemini` is the inverse for schemas Gemini clients send.
 */

type Json = Record<string, unknown>

const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const geminiTypes: Record<string, string> = {
  string: "STRING",
  number: "NUMBER",
  integer: "INTEGER",
  boolean: "BOOLEAN",
  array: "ARRAY",
  object: "OBJECT",
  null: "NULL",
}

/** Keywords Gemini's Schema has, copied as they are (after their values are converted). */
const scalarKeys = [
  "title",
  "description",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "minProperties",
  "maxProperties",
  "minimum",
  "maximum",
  "pattern",
  "default",
  "example",
  "propertyOrdering",
] as const

/** `format` values Gemini accepts, per type. */
const formats: Record<string, ReadonlySet<string>> = {
  STRING: new Set(["enum", "date-time"]),
  NUMBER: new Set(["float", "double"]),
  INTEGER: new Set(["int32", "int64"]),
}

/** How deep `$ref`s are followed before a recursive schema is cut off as a plain object. */
const maxRefDepth = 4

const resolveRef = (root: Json, ref: string): Json | undefined => {
  if (!ref.startsWith("#")) return undefined
  let node: unknown = root
  for (const raw of ref
    .slice(1)
    .split("/")
    .filter((s) => s !== "")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~")
    if (!isObj(node)) return undefined
    node = node[key]
  }
  return isObj(node) ? node : undefined
}

const isNullSchema = (s: unknown) => isObj(s) && (s.type === "null" || s.type === "NULL")

/** Merge `allOf` members into one schema (properties and required are unioned). */
const mergeAllOf = (schema: Json): Json => {
  const { allOf, ...rest } = schema
  if (!Array.isArray(allOf)) return schema
  const out: Json = { ...rest }
  for (const member of allOf) {
    if (!isObj(member)) continue
    for (const [k, v] of Object.entries(member)) {
      if (k === "properties" && isObj(v)) out.properties = { ...(isObj(out.properties) ? out.properties : {}), ...v }
      else if (k === "required" && Array.isArray(v))
        out.required = [...new Set([...(Array.isArray(out.required) ? out.required : []), ...v])]
      else if (!(k in out)) out[k] = v
    }
  }
  return out
}

/** Convert a JSON Schema to Gemini's Schema subset. */
export const toGemini = (schema: unknown): Json => {
  const root = isObj(schema) ? schema : {}
  const convert = (node: unknown, depth: number): Json => {
    if (!isObj(node)) return {}
    let s = node
    if (typeof s.$ref === "string") {
      const target = depth < maxRefDepth ? resolveRef(root, s.$ref) : undefined
      const { $ref: _, ...siblings } = s
      if (target === undefined) return { type: "OBJECT", ...pickDescription(siblings) }
      return convert({ ...target, ...siblings }, depth + 1)
    }
    s = mergeAllOf(s)
    const out: Json = {}

    // anyOf / oneOf: [X, null] is a nullable X; other unions stay anyOf (Gemini has no oneOf).
    const union = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined
    if (union !== undefined) {
      const nonNull = union.filter((m) => !isNullSchema(m))
      const nullable = nonNull.length < union.length
      if (nonNull.length === 1) {
        const inner = convert(nonNull[0], depth)
        if (nullable) inner.nullable = true
        if (typeof s.description === "string" && inner.description === undefined) inner.description = s.description
        if (typeof s.title === "string" && inner.title === undefined) inner.title = s.title
        return inner
      }
      out.anyOf = nonNull.map((m) => convert(m, depth))
      if (nullable) out.nullable = true
      if (typeof s.description === "string") out.description = s.description
      return out
    }

    // type: "string" | ["string", "null"] | ["string", "integer"]
    let type: string | undefined
    if (typeof s.type === "string") type = geminiTypes[s.type.toLowerCase()]
    else if (Array.isArray(s.type)) {
      const types = s.type.filter((t): t is string => typeof t === "string")
      const nonNull = types.filter((t) => t.toLowerCase() !== "null")
      if (nonNull.length < types.length) out.nullable = true
      if (nonNull.length === 1) type = geminiTypes[nonNull[0]!.toLowerCase()]
      else if (nonNull.length > 1) {
        const { type: _, ...rest } = s
        out.anyOf = nonNull.map((t) => convert({ ...rest, type: t }, depth))
        return out
      }
    }
    if (s.const !== undefined && s.enum === undefined) {
      if (typeof s.const === "string") {
        type ??= "STRING"
        out.enum = [s.const]
      }
    }
    if (type === undefined) {
      if (isObj(s.properties)) type = "OBJECT"
      else if (s.items !== undefined) type = "ARRAY"
      else if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === "string")) type = "STRING"
    }
    if (type !== undefined) out.type = type
    if (s.nullable === true) out.nullable = true

    for (const key of scalarKeys) if (s[key] !== undefined) out[key] = s[key]
    if (out.example === undefined && Array.isArray(s.examples) && s.examples.length > 0) out.example = s.examples[0]
    if (typeof s.format === "string" && type !== undefined && formats[type]?.has(s.format)) out.format = s.format

    // Gemini enums are strings and may not contain "".
    if (Array.isArray(s.enum)) {
      if (s.enum.every((v) => typeof v === "string" || v === null)) {
        const values = s.enum.filter((v): v is string => typeof v === "string" && v !== "")
        if (s.enum.includes(null)) out.nullable = true
        if (values.length > 0) out.enum = values
      } else if (type === undefined || type === "STRING") {
        const values = s.enum.filter((v) => v !== null && v !== "").map(String)
        if (values.length > 0) {
          out.type = "STRING"
          out.enum = values
        }
      }
    }

    if (isObj(s.properties)) {
      const props: Json = {}
      for (const [name, p] of Object.entries(s.properties)) props[name] = convert(p, depth)
      out.properties = props
      if (Array.isArray(s.required)) {
        const required = s.required.filter((r): r is string => typeof r === "string" && r in props)
        if (required.length > 0) out.required = required
      }
    }
    if (type === "ARRAY" || s.items !== undefined) {
      const items = Array.isArray(s.items) ? s.items[0] : s.items
      // Gemini requires `items` on an ARRAY; an unconstrained item is the most general: a string.
      out.items = isObj(items) && Object.keys(items).length > 0 ? convert(items, depth) : { type: "STRING" }
      if (Array.isArray(s.prefixItems) && !isObj(items) && isObj(s.prefixItems[0]))
        out.items = convert(s.prefixItems[0], depth)
    }
    return out
  }
  return convert(root, 0)
}

const pickDescription = (s: Json): Json => (typeof s.description === "string" ? { description: s.description } : {})

const jsonTypes: Record<string, string> = Object.fromEntries(
  Object.entries(geminiTypes).map(([json, gemini]) => [gemini, json]),
)

/** Convert a Gemini Schema (types in any case) to the JSON Schema it means. */
export const fromGemini = (schema: unknown): Json => {
  if (!isObj(schema)) return {}
  const out: Json = {}
  const t = typeof schema.type === "string" ? (jsonTypes[schema.type.toUpperCase()] ?? undefined) : undefined
  const nullable = schema.nullable === true
  if (t !== undefined) out.type = nullable && t !== "null" ? [t, "null"] : t
  for (const key of [...scalarKeys, "format"] as const) if (schema[key] !== undefined) out[key] = schema[key]
  if (Array.isArray(schema.enum)) out.enum = nullable ? [...schema.enum, null] : [...schema.enum]
  if (isObj(schema.properties)) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, fromGemini(v)]))
  }
  if (Array.isArray(schema.required)) out.required = [...schema.required]
  if (schema.items !== undefined) out.items = fromGemini(schema.items)
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf.map(fromGemini)
    out.anyOf = nullable && t === undefined ? [...members, { type: "null" }] : members
  }
  return out
}
