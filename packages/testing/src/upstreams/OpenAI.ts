// Mock OpenAI upstream: filled in by the @sluice/openai work.
export {}
