/** What each client protocol (Live, Realtime) provides to a session. */
import type { Ending, Input, Output } from "./Events.ts"

export type Format = "gemini" | "openai"

export interface Decoded {
  readonly inputs: ReadonlyArray<Input>
  /** Frames answered to the client by the gateway itself (acknowledgements); unused when relaying. */
  readonly replies: ReadonlyArray<string>
  /** The frame was refused: the session reports it in the client's form. */
  readonly error?: Ending | undefined
  /** The model the client named in this frame (Live `setup`). */
  readonly model?: string | undefined
}

export interface ClientCodec {
  readonly format: Format
  /** Frames sent as soon as the socket is accepted (Realtime `session.created`). */
  readonly greeting: () => ReadonlyArray<string>
  readonly decode: (frame: string) => Decoded
  readonly encode: (out: Output) => ReadonlyArray<string>
  /** Frames that tell the client about an error (may be none: Live has only close codes). */
  readonly errorFrames: (ending: Ending) => ReadonlyArray<string>
  /** Whether an error from `decode` ends the session (Live) or only the event (Realtime). */
  readonly fatal: boolean
  readonly closeCode: (ending: Ending) => number
  /** A client frame made ready for a same-format upstream (the upstream's model id). */
  readonly rewrite: (frame: string, upstreamModel: string) => string
}

export const ok = (inputs: ReadonlyArray<Input>, replies: ReadonlyArray<string> = []): Decoded => ({ inputs, replies })
export const refuse = (message: string): Decoded => ({ inputs: [], replies: [], error: { _tag: "Invalid", message } })
