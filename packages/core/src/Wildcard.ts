/** `*` matches any run of characters (including none), anywhere in the pattern; nothing else is special. */
export const compile = (pattern: string): ((s: string) => boolean) => {
  if (!pattern.includes("*")) return (s) => s === pattern
  const pieces = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
  const re = new RegExp(`^${pieces.join(".*")}$`, "s")
  return (s) => re.test(s)
}

/**
 * Patterns come from configuration (a bounded set), and are matched on every request: each is
 * compiled once. Bounded all the same — past `maxCached` distinct patterns the cache starts over.
 */
const maxCached = 1024
const compiled = new Map<string, (s: string) => boolean>()

export const matches = (pattern: string, s: string): boolean => {
  let test = compiled.get(pattern)
  if (test === undefined) {
    if (compiled.size >= maxCached) compiled.clear()
    test = compile(pattern)
    compiled.set(pattern, test)
  }
  return test(s)
}
