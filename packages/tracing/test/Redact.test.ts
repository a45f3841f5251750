import { describe, expect, it } from "@effect/vitest"
import { Redact } from "../src/index.ts"

describe("log redaction", () => {
  it("masks key-looking strings and keeps the words around them", () => {
    expect(Redact.secrets("use sk-ant-api03-abcdefghijklmnopqrst now")).toBe("use [REDACTED] now")
    expect(Redact.secrets("password: hunter2hunter2 and api_key=abcd1234efgh")).toBe(
      "password: [REDACTED] and api_key=[REDACTED]",
    )
    expect(Redact.secrets("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig12345678")).toBe(
      "Authorization: Bearer [REDACTED]",
    )
    expect(Redact.secrets("my own key is vk-live-9999-abcd, ok", "vk-live-9999-abcd")).toBe(
      "my own key is [REDACTED], ok",
    )
    expect(Redact.secrets("nothing secret here")).toBe("nothing secret here")
  })
})
