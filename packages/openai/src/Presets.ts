/**
 * The provider types this package contributes. A new OpenAI-compatible vendor is one entry:
 * its default base URL, whether it needs a key, and how its dialect differs.
 */
import * as Dialect from "./Dialect.ts"
import { type Preset, providerType } from "./Provider.ts"

export const openai: Preset = {
  type: "openai",
  defaultBaseUrl: "https://api.openai.com/v1",
  requiresKey: true,
  dialect: Dialect.openai,
}

/** DeepSeek: reasoning arrives as `reasoning_content` and must not be sent back in history. */
export const deepseek: Preset = {
  type: "deepseek",
  defaultBaseUrl: "https://api.deepseek.com",
  requiresKey: true,
  dialect: { ...Dialect.compatible, reasoningEffort: false, replayReasoning: false },
}

/** xAI (Grok): follows OpenAI's current fields, max_completion_tokens included. */
export const xai: Preset = {
  type: "xai",
  defaultBaseUrl: "https://api.x.ai/v1",
  requiresKey: true,
  dialect: { ...Dialect.compatible, maxTokensField: "max_completion_tokens" },
}

/** Ollama's OpenAI endpoint on its default port; local, so no key. */
export const ollama: Preset = {
  type: "ollama",
  defaultBaseUrl: "http://127.0.0.1:11434/v1",
  requiresKey: false,
  dialect: Dialect.compatible,
}

/** vLLM, LM Studio, llama.cpp server, …: any server by `baseUrl` (required), key optional. */
export const compatible: Preset = {
  type: "openai-compatible",
  requiresKey: false,
  dialect: Dialect.compatible,
}

export const all: ReadonlyArray<Preset> = [openai, deepseek, xai, ollama, compatible]

export const providerTypes = all.map(providerType)
