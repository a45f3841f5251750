/**
 * Mask credential-looking strings before text is logged. This is a log scrubber, not a policy
 * engine (that is @sluice/guardrails): it errs on the side of masking.
 */

const patterns: ReadonlyArray<RegExp> = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{30,}\b/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  /\b[Bb]earer\s+[A-Za-z0-9._~+/-]{16,}=*/g,
  /\b(?:api[_-]?key|secret|token|password|passwd)\b(\s*[:=]\s*["']?)[^\s"']{8,}/gi,
]

export const secrets = (text: string, extra?: string): string => {
  let out = text
  if (extra !== undefined && extra.length >= 8) out = out.split(extra).join("[REDACTED]")
  for (const p of patterns)
    out = out.replace(p, (m, sep?: string) =>
      typeof sep === "string" ? m.slice(0, m.indexOf(sep) + sep.length) + "[REDACTED]" : "[REDACTED]",
    )
  return out
}
