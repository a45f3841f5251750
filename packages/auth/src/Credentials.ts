/**
 * Per-key provider credentials, encrypted at rest: a virtual key may carry its own provider keys
 * (HasteKit's model: teams bring their provider accounts behind one gateway), stored as
 * AES-256-GCM ciphertexts under a key the operator configures (`auth.credentialKeys`), never
 * returned by the admin API once set.
 *
 * A sealed credential is `v1.<key id>.<iv>.<ciphertext+tag>` (base64url). The key id (the first
 * 8 hex digits of the encryption key's SHA-256) says which configured key opens it, so keys rotate
 * without downtime: put the new key first and keep the old one after it; new writes use the
 * first, reads open either, and re-sealing moves old ciphertexts to the new key. The virtual
 * key's id and the provider's name are bound in as associated data, so a ciphertext copied onto
 * another key or provider does not open.
 */
import * as Crypto from "node:crypto"
import { Either, Redacted } from "effect"

export interface CredentialKey {
  readonly id: string
  readonly key: Buffer
}

/** Why a configured encryption key is unusable, or the key. */
export const parseKey = (text: string): Either.Either<CredentialKey, string> => {
  const t = text.trim()
  const raw = /^[0-9a-fA-F]{64}$/.test(t)
    ? Buffer.from(t, "hex")
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(t)
      ? Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64")
      : undefined
  if (raw === undefined || raw.length !== 32)
    return Either.left("expected 32 random bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)")
  return Either.right({ id: Crypto.createHash("sha256").update(raw).digest("hex").slice(0, 8), key: raw })
}

export class CredentialError extends Error {}

/** A random key for this process alone (config keys' credentials when none is configured). */
export const ephemeralKey = (): CredentialKey => {
  const key = Crypto.randomBytes(32)
  return { id: Crypto.createHash("sha256").update(key).digest("hex").slice(0, 8), key }
}

const aad = (keyId: string, provider: string) => Buffer.from(`sluice-credential\u0000${keyId}\u0000${provider}`)

/** Encrypt a provider credential for one virtual key and provider with the first configured key. */
export const seal = (
  keys: ReadonlyArray<CredentialKey>,
  virtualKeyId: string,
  provider: string,
  secret: string,
): string => {
  const k = keys[0]
  if (k === undefined) throw new CredentialError("no auth.credentialKeys are configured")
  const iv = Crypto.randomBytes(12)
  const cipher = Crypto.createCipheriv("aes-256-gcm", k.key, iv)
  cipher.setAAD(aad(virtualKeyId, provider))
  const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final(), cipher.getAuthTag()])
  return `v1.${k.id}.${iv.toString("base64url")}.${body.toString("base64url")}`
}

/** Decrypt a sealed credential; the error says why it cannot be opened, never what it holds. */
export const open = (
  keys: ReadonlyArray<CredentialKey>,
  virtualKeyId: string,
  provider: string,
  sealed: string,
): Either.Either<Redacted.Redacted<string>, string> => {
  const parts = sealed.split(".")
  if (parts.length !== 4 || parts[0] !== "v1") return Either.left("not a sealed credential (v1.<key id>.<iv>.<data>)")
  const k = keys.find((x) => x.id === parts[1])
  if (k === undefined)
    return Either.left(`sealed with key ${parts[1]!.slice(0, 8)}, which is not among auth.credentialKeys`)
  try {
    const iv = Buffer.from(parts[2]!, "base64url")
    const data = Buffer.from(parts[3]!, "base64url")
    if (iv.length !== 12 || data.length < 17) return Either.left("a sealed credential of the wrong length")
    const decipher = Crypto.createDecipheriv("aes-256-gcm", k.key, iv)
    decipher.setAAD(aad(virtualKeyId, provider))
    decipher.setAuthTag(data.subarray(data.length - 16))
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()])
    return Either.right(Redacted.make(plain.toString("utf8")))
  } catch {
    return Either.left("it does not open with its key (altered, or sealed for another key or provider)")
  }
}

/** The sealed credential under the first key, or the same text when it already is. */
export const reseal = (
  keys: ReadonlyArray<CredentialKey>,
  virtualKeyId: string,
  provider: string,
  sealed: string,
): Either.Either<string, string> => {
  if (sealed.split(".")[1] === keys[0]?.id) return Either.right(sealed)
  return Either.map(open(keys, virtualKeyId, provider, sealed), (plain) =>
    seal(keys, virtualKeyId, provider, Redacted.value(plain)),
  )
}
