/**
 * The admin key check for this package's admin routes (usage/spend), the same rule as
 * @sluice/auth's admin API: SHA-256 compared in constant time, `Bearer` or `x-api-key`.
 */
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest()

export const make = (adminKeyHash: string) => {
  const expected = Buffer.from(adminKeyHash, "hex")
  return (headers: Readonly<Record<string, string | undefined>>): boolean => {
    const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization?.trim() ?? "")?.[1]
    const key = bearer ?? headers["x-api-key"] ?? ""
    return expected.length === 32 && timingSafeEqual(digest(key), expected) && key !== ""
  }
}

export const hashOf = (key: string): string => digest(key).toString("hex")
