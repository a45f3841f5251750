/**
 * Key material: virtual keys are stored only as SHA-256 hashes and compared in constant time,
 * so neither the store nor the timing of a comparison reveals a key.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

/** Lower-case hex SHA-256 of a key. */
export const sha256 = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex")

export const isSha256Hex = (s: string): boolean => /^[0-9a-f]{64}$/.test(s)

/** Constant-time equality of two hex SHA-256 digests (false, not a throw, on malformed input). */
export const equalHashes = (a: string, b: string): boolean => {
  if (!isSha256Hex(a) || !isSha256Hex(b)) return false
  return timingSafeEqual(Buffer.from(a, "hex"), Buffer.from(b, "hex"))
}

/** A fresh virtual key: a recognisable prefix and 256 bits of randomness. */
export const generateKey = (): string => `sk-sluice-${randomBytes(32).toString("base64url")}`

/** A fresh key id: not secret, used in URLs, buckets and ledgers. */
export const generateId = (): string => `key_${randomBytes(9).toString("hex")}`
