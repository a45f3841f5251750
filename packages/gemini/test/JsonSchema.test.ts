import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as JsonSchema from "../src/JsonSchema.ts"

describe("JsonSchema.toGemini (JSON Schema → Gemini's Schema subset)", () => {
  const cases: Array<[string, unknown, unknown]> = [
    ["types become Gemini's enum names", { type: "string" }, { type: "STRING" }],
    [
      "type [t, null] → nullable",
      { type: ["integer", "null"], minimum: 1 },
      { type: "INTEGER", nullable: true, minimum: 1 },
    ],
    [
      "anyOf [X, null] → nullable X, keeping the description",
      { anyOf: [{ type: "string" }, { type: "null" }], description: "d" },
      { type: "STRING", nullable: true, description: "d" },
    ],
    [
      "other unions stay anyOf; oneOf becomes anyOf",
      { oneOf: [{ type: "string" }, { type: "number" }] },
      { anyOf: [{ type: "STRING" }, { type: "NUMBER" }] },
    ],
    [
      "a type list without null becomes anyOf",
      { type: ["string", "boolean"] },
      { anyOf: [{ type: "STRING" }, { type: "BOOLEAN" }] },
    ],
    [
      "unsupported keywords are dropped ($schema, additionalProperties, const on objects, …)",
      {
        $schema: "http://json-schema.org/draft-07/schema#",
        $id: "x",
        type: "object",
        additionalProperties: false,
        properties: { a: { type: "string", readOnly: true, uniqueItems: true } },
        patternProperties: { "^x": {} },
      },
      { type: "OBJECT", properties: { a: { type: "STRING" } } },
    ],
    [
      "$ref / $defs are inlined",
      {
        type: "object",
        $defs: { City: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
        properties: { home: { $ref: "#/$defs/City", description: "where" } },
      },
      {
        type: "OBJECT",
        properties: {
          home: { type: "OBJECT", description: "where", properties: { name: { type: "STRING" } }, required: ["name"] },
        },
      },
    ],
    [
      "definitions (draft 7) are inlined too",
      { properties: { x: { $ref: "#/definitions/X" } }, definitions: { X: { type: "number" } } },
      { type: "OBJECT", properties: { x: { type: "NUMBER" } } },
    ],
    [
      "a recursive $ref is cut off as a plain object",
      { $defs: { N: { type: "object", properties: { next: { $ref: "#/$defs/N" } } } }, $ref: "#/$defs/N" },
      {
        type: "OBJECT",
        properties: {
          next: {
            type: "OBJECT",
            properties: {
              next: {
                type: "OBJECT",
                properties: { next: { type: "OBJECT", properties: { next: { type: "OBJECT" } } } },
              },
            },
          },
        },
      },
    ],
    ["const string → enum", { const: "fixed" }, { type: "STRING", enum: ["fixed"] }],
    [
      "empty-string enum values are removed",
      { type: "string", enum: ["", "a", "b"] },
      { type: "STRING", enum: ["a", "b"] },
    ],
    ["numeric enums become strings", { enum: [1, 2] }, { type: "STRING", enum: ["1", "2"] }],
    [
      "a null enum value means nullable",
      { type: "string", enum: ["a", null] },
      { type: "STRING", enum: ["a"], nullable: true },
    ],
    [
      "only the formats Gemini knows survive",
      {
        type: "object",
        properties: {
          a: { type: "string", format: "email" },
          b: { type: "string", format: "date-time" },
          c: { type: "integer", format: "int64" },
        },
      },
      {
        type: "OBJECT",
        properties: {
          a: { type: "STRING" },
          b: { type: "STRING", format: "date-time" },
          c: { type: "INTEGER", format: "int64" },
        },
      },
    ],
    ["examples → example", { type: "string", examples: ["x", "y"] }, { type: "STRING", example: "x" }],
    ["an array without items gets string items", { type: "array" }, { type: "ARRAY", items: { type: "STRING" } }],
    ["empty items become string items", { type: "array", items: {} }, { type: "ARRAY", items: { type: "STRING" } }],
    [
      "tuple items take the first member",
      { type: "array", prefixItems: [{ type: "number" }] },
      { type: "ARRAY", items: { type: "NUMBER" } },
    ],
    [
      "properties without a type imply OBJECT",
      { properties: { a: { type: "boolean" } } },
      { type: "OBJECT", properties: { a: { type: "BOOLEAN" } } },
    ],
    [
      "required names that are not properties are dropped",
      { type: "object", properties: { a: { type: "string" } }, required: ["a", "ghost"] },
      { type: "OBJECT", properties: { a: { type: "STRING" } }, required: ["a"] },
    ],
    [
      "allOf members are merged",
      {
        allOf: [
          { type: "object", properties: { a: { type: "string" } }, required: ["a"] },
          { properties: { b: { type: "number" } }, required: ["b"] },
        ],
      },
      { type: "OBJECT", properties: { a: { type: "STRING" }, b: { type: "NUMBER" } }, required: ["a", "b"] },
    ],
    [
      "kept keywords: title, description, bounds, pattern, default, propertyOrdering",
      { type: "string", title: "T", description: "D", minLength: 1, maxLength: 9, pattern: "^a", default: "a" },
      { type: "STRING", title: "T", description: "D", minLength: 1, maxLength: 9, pattern: "^a", default: "a" },
    ],
  ]
  it.each(cases)("%s", (_, input, expected) => {
    expect(JsonSchema.toGemini(input)).toEqual(expected)
  })
})

describe("JsonSchema.fromGemini", () => {
  it("lowercases types and turns nullable into a type list", () => {
    expect(
      JsonSchema.fromGemini({
        type: "OBJECT",
        properties: {
          a: { type: "STRING", nullable: true, enum: ["x"] },
          b: { type: "ARRAY", items: { type: "integer" } },
        },
        required: ["a"],
        propertyOrdering: ["a", "b"],
      }),
    ).toEqual({
      type: "object",
      properties: {
        a: { type: ["string", "null"], enum: ["x", null] },
        b: { type: "array", items: { type: "integer" } },
      },
      required: ["a"],
      propertyOrdering: ["a", "b"],
    })
  })

  // Gemini Schema → JSON Schema → Gemini Schema is the identity on Gemini's own subset.
  const leaf = fc.oneof(
    fc.record({ type: fc.constantFrom("STRING", "NUMBER", "INTEGER", "BOOLEAN") }, { requiredKeys: ["type"] }),
    fc.record({
      type: fc.constant("STRING"),
      enum: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }),
    }),
    fc.record({ type: fc.constant("STRING"), description: fc.string(), nullable: fc.constant(true) }),
  )
  const schema = fc.letrec<{ node: Record<string, unknown> }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      leaf,
      fc.record({ type: fc.constant("ARRAY"), items: tie("node") }),
      fc
        .dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/), tie("node"), { minKeys: 1, maxKeys: 3 })
        .chain((properties) =>
          fc.record({
            type: fc.constant("OBJECT"),
            properties: fc.constant(properties),
            required: fc.subarray(Object.keys(properties), { minLength: 1 }),
          }),
        ),
    ),
  }))
  it("round-trips Gemini's own subset (property)", () => {
    fc.assert(
      fc.property(schema.node, (s) => {
        expect(JsonSchema.toGemini(JsonSchema.fromGemini(s))).toEqual(s)
      }),
    )
  })
})
