// Mock Gemini upstream: filled in by the @sluice/gemini work.
export {}
