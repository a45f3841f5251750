/**
 * Gemini thought signatures on OpenAI-format tool calls. A client sees the signature twice: in
 * the call id (`CallId.wrap`, kept by clients that rebuild a call from id, name and arguments)
 * and as `extra_content.google.thought_signature` (what Google's own OpenAI-compatible endpoint
 * returns). Coming back, either restores it; the id the upstream sees is the original one.
 */
import { CallId } from "@sluice/schema"
import type * as Wire from "./Wire.ts"

export interface ClientCall {
  readonly id: string
  readonly extra_content?: Wire.ExtraContent
}

/** What a client is shown for a call with this id and signature. */
export const toClient = (id: string, signature: string | undefined): ClientCall =>
  signature === undefined
    ? { id }
    : { id: CallId.wrap(id, signature), extra_content: { google: { thought_signature: signature } } }

/** A call (or a tool message's tool_call_id) from a client: the original id and the signature. */
export const fromClient = (wireId: string, extra?: Wire.ExtraContent | null): CallId.Unwrapped => {
  const unwrapped = CallId.unwrap(wireId)
  const given = extra?.google?.thought_signature
  return given === undefined || given === "" ? unwrapped : { id: unwrapped.id, signature: given }
}
