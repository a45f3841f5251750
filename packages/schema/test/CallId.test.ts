import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CallId } from "../src/index.ts"

const anthropicId = /^[a-zA-Z0-9_-]+$/
const idChars = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-".split(""))
const ids = fc.string({ unit: idChars, minLength: 1, maxLength: 60 })
/** Standard base64 of random bytes: what Google sends as a thoughtSignature. */
const googleSignatures = fc
  .uint8Array({ minLength: 1, maxLength: 600 })
  .map((bytes) => Buffer.from(bytes).toString("base64"))

describe("CallId", () => {
  it("round-trips a Gemini signature exactly, in Anthropic's id charset", () => {
    fc.assert(
      fc.property(ids, googleSignatures, (id, signature) => {
        const wire = CallId.wrap(id, signature)
        expect(wire).toMatch(anthropicId)
        expect(CallId.unwrap(wire)).toEqual({ id, signature })
      }),
    )
  })

  it("round-trips any text signature and any id", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (id, signature) => {
        expect(CallId.unwrap(CallId.wrap(id, signature))).toEqual({ id, signature })
      }),
    )
  })

  it("leaves unsigned and foreign ids alone", () => {
    fc.assert(
      fc.property(fc.string(), (id) => {
        const wrapped = CallId.wrap(id, undefined)
        expect(wrapped).toBe(id)
        if (!id.startsWith("sig1")) expect(CallId.unwrap(id)).toEqual({ id })
      }),
    )
    expect(CallId.unwrap("call_abc123")).toEqual({ id: "call_abc123" })
    expect(CallId.unwrap("toolu_01A09q90qw90lq917835lq9")).toEqual({ id: "toolu_01A09q90qw90lq917835lq9" })
    // Malformed signed shapes are taken as plain ids, never half-decoded.
    expect(CallId.unwrap("sig1b99_short")).toEqual({ id: "sig1b99_short" })
    expect(CallId.unwrap("sig1b4_abcd")).toEqual({ id: "sig1b4_abcd" })
    expect(CallId.unwrap("sig1b2_ab!!")).toEqual({ id: "sig1b2_ab!!" })
  })

  it("keeps the original id readable inside the signed one", () => {
    const wire = CallId.wrap("gemini_fc_1_0", "CiQB0e2Kb+/xYQ==")
    expect(wire).toBe("sig1b13_gemini_fc_1_0CiQB0e2Kb-_xYQ")
    expect(CallId.isSigned(wire)).toBe(true)
    expect(CallId.isSigned("gemini_fc_1_0")).toBe(false)
  })
})
