/**
 * The admin API's door: the admin key is held only as its SHA-256 and the presented key is
 * compared in constant time. Accepted as `Authorization: Bearer …` or `x-api-key`.
 */
import { equalHashes, sha256 } from "./Hash.ts"

export const presented = (headers: Readonly<Record<string, string | undefined>>): string | undefined => {
  const auth = headers.authorization
  if (auth !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim())
    if (m) return m[1]
  }
  return headers["x-api-key"]
}

export const make =
  (adminKeyHash: string) =>
  (headers: Readonly<Record<string, string | undefined>>): boolean => {
    const key = presented(headers)
    // Hash even a missing key so both paths cost the same.
    return equalHashes(sha256(key ?? ""), adminKeyHash) && key !== undefined && key !== ""
  }
