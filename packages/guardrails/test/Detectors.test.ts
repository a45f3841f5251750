import { describe, expect, it } from "@effect/vitest"
import { Detectors } from "../src/index.ts"

const found = (kind: Detectors.PiiKind, text: string) =>
  Detectors.detectors[kind](text).map((m) => text.slice(m.start, m.end))

describe("detectors", () => {
  it("finds emails", () => {
    expect(found("email", "write to jane.doe+x@mail.example.co.uk today")).toEqual(["jane.doe+x@mail.example.co.uk"])
    expect(found("email", "no at-sign here, nor a@b")).toEqual([])
  })

  it("finds credit card numbers only when the Luhn check passes", () => {
    expect(found("credit_card", "card 4111 1111 1111 1111 exp 12/29")).toEqual(["4111 1111 1111 1111"])
    expect(found("credit_card", "card 4111-1111-1111-1112")).toEqual([])
    expect(found("credit_card", "amex 378282246310005.")).toEqual(["378282246310005"])
    // Trailing digits that break the checksum do not hide a valid number.
    expect(found("credit_card", "5555 5555 5555 4444 2024")).toEqual(["5555 5555 5555 4444"])
    expect(found("credit_card", "order id 1234567890123")).toEqual([])
  })

  it("finds IBANs only when mod-97 passes", () => {
    expect(found("iban", "pay DE89 3704 0044 0532 0130 00 now")).toEqual(["DE89 3704 0044 0532 0130 00"])
    expect(found("iban", "GB82WEST12345698765432")).toEqual(["GB82WEST12345698765432"])
    expect(found("iban", "GB82WEST12345698765433")).toEqual([])
    expect(Detectors.ibanValid("FR1420041010050500013M02606")).toBe(true)
  })

  it("finds phone numbers written as phone numbers, not ids or dates", () => {
    expect(found("phone", "call +1 415-555-0132 or (020) 7946 0958")).toEqual(["+1 415-555-0132", "(020) 7946 0958"])
    expect(found("phone", "ring 555-123-4567.")).toEqual(["555-123-4567"])
    expect(found("phone", "on 2024-01-15 ticket 1700000000")).toEqual([])
  })

  it("finds API keys and other secrets", () => {
    expect(found("secret", "key=sk-proj-Abcdefghijklmnop1234 ok")).toEqual(["sk-proj-Abcdefghijklmnop1234"])
    expect(found("secret", "AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345")).toEqual([
      "AKIAIOSFODNN7EXAMPLE",
      "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    ])
    expect(found("secret", "a sketch of sk-short")).toEqual([])
  })

  it("keywords match whole words, case-insensitively", () => {
    const d = Detectors.keywords(["project x", "acme"])
    const text = "Project X for ACME, not acmeville"
    expect(d(text).map((m) => text.slice(m.start, m.end))).toEqual(["Project X", "ACME"])
  })

  it("masks in place and keeps the rest", () => {
    const text = "a b@c.io d"
    expect(Detectors.mask(text, Detectors.detectors.email(text))).toBe("a [REDACTED:email] d")
  })
})
