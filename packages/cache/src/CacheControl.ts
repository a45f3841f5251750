/** The client's `cache-control` request header, as far as the cache honours it. */
export interface Directives {
  /** Do not answer from the cache (a fresh answer may still be stored). */
  readonly noCache: boolean
  /** Neither read nor store. */
  readonly noStore: boolean
}

export const parse = (header: string | undefined): Directives => {
  if (header === undefined) return { noCache: false, noStore: false }
  // Directive names only; arguments (`max-age=0`) and unknown directives are ignored.
  const names = new Set(
    header
      .slice(0, 1024)
      .split(",")
      .map((d) => d.split("=")[0]!.trim().toLowerCase()),
  )
  const noStore = names.has("no-store")
  return { noCache: noStore || names.has("no-cache"), noStore }
}
