// Mock Anthropic upstream: filled in by the @sluice/anthropic work.
export {}
