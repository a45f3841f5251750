/** `*` matches any run of characters (including none), anywhere in the pattern; nothing else is special. */
export const compile = (pattern: string): ((s: string) => boolean) => {
  if (!pattern.includes("*")) return (s) => s === pattern
  const pieces = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
  const re = new RegExp(`^${pieces.join(".*")}$`, "s")
  return (s) => re.test(s)
}

export const matches = (pattern: string, s: string): boolean => compile(pattern)(s)
