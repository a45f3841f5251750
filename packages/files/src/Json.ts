/** What the files and batches front-ends share: a JSON object check and a 200 JSON reply. */
import type { Ingress } from "@sluice/core"

export type Json = Record<string, unknown>

export const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export const json = (body: unknown, headers?: Readonly<Record<string, string>>): Ingress.Reply => ({
  _tag: "Json",
  status: 200,
  body,
  ...(headers === undefined ? {} : { headers }),
})
