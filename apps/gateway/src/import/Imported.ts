/**
 * What an import produces: a Sluice config object (written out as YAML) and a report of what in
 * the source has no equivalent or was changed on the way. Failures name the line or the key.
 */
export interface Imported {
  readonly config: Record<string, unknown>
  /** One line per source setting that was dropped, approximated or deserves a look. */
  readonly report: ReadonlyArray<string>
}

/** A source file that cannot be imported; the message names the file and the line or key. */
export class ImportError extends Error {}

export const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** A provider or model name usable as a Sluice config key (letters, digits, `-`, `_`, `.`). */
export const safeName = (s: string): string => s.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "") || "x"

/** Keep `${ENV}` references as written; a literal secret is kept too, and reported. */
export const secret = (value: unknown, where: string, report: Array<string>): string | undefined => {
  if (value === undefined || value === null || value === "") return undefined
  const s = String(value)
  if (!/^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/.test(s)) {
    report.push(
      `${where}: a literal secret was copied as written; consider moving it to an environment variable (\${NAME})`,
    )
  }
  return s
}

/** Put a unique key in a record: `name`, then `name-2`, `name-3`, … */
export const uniqueKey = (taken: Record<string, unknown>, name: string): string => {
  if (!(name in taken)) return name
  let i = 2
  while (`${name}-${i}` in taken) i++
  return `${name}-${i}`
}
