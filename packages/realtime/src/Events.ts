/**
 * The session's canonical events. Each client protocol decodes its frames into `Input` and
 * encodes `Output` back; each upstream does the reverse. Live ⇄ Realtime translation is
 * therefore two codecs and two upstreams, not one translator per pair.
 */
import type { Usage } from "@sluice/schema"

export interface ToolDecl {
  readonly name: string
  readonly description?: string | undefined
  /** JSON Schema of the arguments. */
  readonly parameters?: unknown
}

/** What a session is set up with (Live `setup`, Realtime `session.update`). */
export interface SessionConfig {
  readonly instructions?: string | undefined
  readonly tools: ReadonlyArray<ToolDecl>
  /** The one output modality of the session. */
  readonly modality: "text" | "audio"
  readonly voice?: string | undefined
  readonly maxOutputTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly inputTranscription: boolean
  readonly outputTranscription: boolean
}

export const defaultConfig: SessionConfig = {
  tools: [],
  modality: "text",
  inputTranscription: false,
  outputTranscription: false,
}

/** PCM16 little-endian mono at `rate` Hz. */
export interface Pcm {
  readonly pcm: Buffer
  readonly rate: number
}

export type Input =
  | { readonly _tag: "Configure"; readonly config: SessionConfig }
  /** A user text item; it waits for `Respond`. */
  | { readonly _tag: "Text"; readonly text: string }
  | ({ readonly _tag: "Audio" } & Pcm)
  /** The end of the user's audio (Realtime commit, Live audioStreamEnd). */
  | { readonly _tag: "AudioEnd" }
  | { readonly _tag: "ToolResult"; readonly id: string; readonly name: string; readonly output: unknown }
  /** Generate now (Realtime response.create, Live turnComplete). */
  | { readonly _tag: "Respond" }
  | { readonly _tag: "Cancel" }

export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly args: Readonly<Record<string, unknown>>
}

export type Output =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "TextDelta"; readonly text: string }
  | ({ readonly _tag: "AudioDelta" } & Pcm)
  | { readonly _tag: "OutputTranscript"; readonly text: string }
  | { readonly _tag: "InputTranscript"; readonly text: string }
  | { readonly _tag: "ToolCalls"; readonly calls: ReadonlyArray<ToolCall> }
  | { readonly _tag: "Interrupted" }
  | {
      readonly _tag: "TurnDone"
      readonly status: "completed" | "cancelled" | "failed"
      readonly usage?: Usage | undefined
    }
  | { readonly _tag: "GoAway"; readonly timeLeftMs: number }
  /** The upstream refused something (a Realtime `error` event). */
  | { readonly _tag: "Error"; readonly message: string; readonly code?: string | undefined }

/** Why a session ends; each protocol maps it to its own close code and error event. */
export type Ending =
  | { readonly _tag: "Invalid"; readonly message: string }
  | { readonly _tag: "Policy"; readonly message: string }
  | { readonly _tag: "Unavailable"; readonly message: string }
  | { readonly _tag: "Internal"; readonly message: string }
  | { readonly _tag: "Normal"; readonly message: string }
