/**
 * Canonical events → the Responses API's typed SSE events, numbered by `sequence_number`:
 * response.created, response.in_progress, then per output item output_item.added →
 * (content_part.added → output_text.delta… → output_text.done → content_part.done |
 * reasoning_summary_part.added → reasoning_summary_text.delta… → …done |
 * function_call_arguments.delta… → function_call_arguments.done) → output_item.done, and
 * finally response.completed / response.incomplete — or `error` + response.failed.
 */
import { Effect, Stream } from "effect"
import { CallId, type FinishReason, type GatewayError, type StreamEvent, type Usage } from "@sluice/schema"
import { Ingress } from "@sluice/core"
import * as ErrorCodec from "./ErrorCodec.ts"
import * as StreamCodec from "./StreamCodec.ts"
import * as Codec from "./ResponsesCodec.ts"
import type * as W from "./ResponsesWire.ts"

type Open =
  | { kind: "message"; index: number; id: string; text: string }
  | { kind: "reasoning"; index: number; id: string; text: string; signature: string | undefined }
  | { kind: "call"; index: number; id: string; callId: string; name: string; args: string }

export interface Options {
  /** The gateway keeps this response (echoed as `store`). */
  readonly stored?: boolean
  /**
   * Runs with the finished response (completed or incomplete) before its last event is sent,
   * so a client that continues from it at once finds it stored. Must not fail.
   */
  readonly onDone?: (response: W.Response) => Effect.Effect<void>
}

export const encode = (
  events: Stream.Stream<StreamEvent, GatewayError>,
  req: W.ResponsesRequest,
  createdAt = Math.floor(Date.now() / 1000),
  options: Options = {},
): Stream.Stream<string> =>
  Stream.suspend(() => {
    const id = Codec.newId("resp")
    let model = req.model
    let seq = 0
    let started = false
    let finished = false
    /** The finished response, until `onDone` has run for it. */
    let done: W.Response | undefined
    const output: Array<W.OutputItem | undefined> = []
    /** The open text or reasoning item (at most one), and open calls by canonical index. */
    let current: Extract<Open, { kind: "message" | "reasoning" }> | undefined
    const calls = new Map<number, Extract<Open, { kind: "call" }>>()

    const emit = (out: Array<string>, type: string, fields: Record<string, unknown>) => {
      out.push(Ingress.sseFrame(JSON.stringify({ type, ...fields, sequence_number: seq++ }), type))
    }

    const snapshot = (
      status: W.Status,
      extra: Partial<Pick<W.Response, "usage" | "incomplete_details" | "error">> = {},
    ): W.Response => ({
      ...Codec.skeleton(id, model, createdAt, req, options.stored === true),
      status,
      error: null,
      incomplete_details: null,
      output: output.filter((o): o is W.OutputItem => o !== undefined),
      usage: null,
      ...extra,
    })

    const open = (out: Array<string>) => {
      if (started) return
      started = true
      emit(out, "response.created", { response: snapshot("in_progress") })
      emit(out, "response.in_progress", { response: snapshot("in_progress") })
    }

    const closeCurrent = (out: Array<string>) => {
      const c = current
      if (c === undefined) return
      current = undefined
      if (c.kind === "message") {
        const part = Codec.outputText(c.text)
        emit(out, "response.output_text.done", {
          item_id: c.id,
          output_index: c.index,
          content_index: 0,
          text: c.text,
          logprobs: [],
        })
        emit(out, "response.content_part.done", { item_id: c.id, output_index: c.index, content_index: 0, part })
        const item: W.MessageOutput = {
          type: "message",
          id: c.id,
          status: "completed",
          role: "assistant",
          content: [part],
        }
        output[c.index] = item
        emit(out, "response.output_item.done", { output_index: c.index, item })
      } else {
        const part = { type: "summary_text", text: c.text }
        emit(out, "response.reasoning_summary_text.done", {
          item_id: c.id,
          output_index: c.index,
          summary_index: 0,
          text: c.text,
        })
        emit(out, "response.reasoning_summary_part.done", {
          item_id: c.id,
          output_index: c.index,
          summary_index: 0,
          part,
        })
        const item = Codec.reasoningItem(c.id, c.text, c.signature)
        output[c.index] = item
        emit(out, "response.output_item.done", { output_index: c.index, item })
      }
    }

    const closeCall = (out: Array<string>, key: number) => {
      const c = calls.get(key)
      if (c === undefined) return
      calls.delete(key)
      emit(out, "response.function_call_arguments.done", {
        item_id: c.id,
        output_index: c.index,
        name: c.name,
        arguments: c.args,
      })
      const item: W.FunctionCallOutput = {
        type: "function_call",
        id: c.id,
        call_id: c.callId,
        name: c.name,
        arguments: c.args,
        status: "completed",
      }
      output[c.index] = item
      emit(out, "response.output_item.done", { output_index: c.index, item })
    }

    const addItem = (out: Array<string>, item: W.OutputItem): number => {
      const index = output.length
      output.push(undefined)
      emit(out, "response.output_item.added", { output_index: index, item })
      return index
    }

    const finish = (out: Array<string>, reason: FinishReason, usage: Usage) => {
      closeCurrent(out)
      for (const key of [...calls.keys()]) closeCall(out, key)
      finished = true
      const { status, incomplete_details } = Codec.statusOf(reason)
      const response = snapshot(status, { incomplete_details, usage: Codec.usage(usage) })
      done = response
      emit(out, status === "completed" ? "response.completed" : "response.incomplete", { response })
    }

    const onEvent = (e: StreamEvent): Array<string> => {
      if (finished) return []
      const out: Array<string> = []
      open(out)
      switch (e._tag) {
        case "start":
          model = e.model
          break
        case "text_delta": {
          if (e.text === "") break
          if (current?.kind !== "message") {
            closeCurrent(out)
            const itemId = Codec.newId("msg")
            const index = addItem(out, {
              type: "message",
              id: itemId,
              status: "in_progress",
              role: "assistant",
              content: [],
            })
            emit(out, "response.content_part.added", {
              item_id: itemId,
              output_index: index,
              content_index: 0,
              part: Codec.outputText(""),
            })
            current = { kind: "message", index, id: itemId, text: "" }
          }
          current.text += e.text
          emit(out, "response.output_text.delta", {
            item_id: current.id,
            output_index: current.index,
            content_index: 0,
            delta: e.text,
            logprobs: [],
          })
          break
        }
        case "reasoning_delta": {
          if (current?.kind !== "reasoning") {
            closeCurrent(out)
            const itemId = Codec.newId("rs")
            const index = addItem(out, { type: "reasoning", id: itemId, summary: [] })
            emit(out, "response.reasoning_summary_part.added", {
              item_id: itemId,
              output_index: index,
              summary_index: 0,
              part: { type: "summary_text", text: "" },
            })
            current = { kind: "reasoning", index, id: itemId, text: "", signature: undefined }
          }
          const r = current
          if (e.text !== "") {
            r.text += e.text
            emit(out, "response.reasoning_summary_text.delta", {
              item_id: r.id,
              output_index: r.index,
              summary_index: 0,
              delta: e.text,
            })
          }
          // A signature closes the reasoning block it belongs to.
          if (e.signature !== undefined) {
            r.signature = e.signature
            closeCurrent(out)
          }
          break
        }
        case "image": {
          // One whole image: the tool call's lifecycle events around it, no partial images.
          closeCurrent(out)
          const itemId = Codec.newId("ig")
          const index = addItem(out, { type: "image_generation_call", id: itemId, status: "in_progress", result: null })
          emit(out, "response.image_generation_call.in_progress", { item_id: itemId, output_index: index })
          emit(out, "response.image_generation_call.generating", { item_id: itemId, output_index: index })
          emit(out, "response.image_generation_call.completed", { item_id: itemId, output_index: index })
          const item = Codec.imageItem(itemId, e.mediaType, e.data)
          output[index] = item
          emit(out, "response.output_item.done", { output_index: index, item })
          break
        }
        case "tool_call_start": {
          closeCurrent(out)
          const itemId = Codec.newId("fc")
          const callId = CallId.wrap(e.id, e.signature)
          const index = addItem(out, {
            type: "function_call",
            id: itemId,
            call_id: callId,
            name: e.name,
            arguments: "",
            status: "in_progress",
          })
          calls.set(e.index, { kind: "call", index, id: itemId, callId, name: e.name, args: "" })
          break
        }
        case "tool_call_delta": {
          const c = calls.get(e.index)
          if (c === undefined || e.arguments === "") break
          c.args += e.arguments
          emit(out, "response.function_call_arguments.delta", {
            item_id: c.id,
            output_index: c.index,
            delta: e.arguments,
          })
          break
        }
        case "tool_call_end":
          closeCall(out, e.index)
          break
        case "usage":
          break
        case "finish":
          finish(out, e.finishReason, e.usage)
          break
      }
      return out
    }

    const onError = (e: GatewayError): ReadonlyArray<string> => {
      if (finished) return []
      const out: Array<string> = []
      open(out)
      if (e._tag === "GuardrailViolation") {
        // The blocked text is never sent; the answer ends as filtered.
        finish(out, "content_filter", { inputTokens: 0, outputTokens: 0 })
        return out
      }
      finished = true
      const err = ErrorCodec.errorObject(e)
      emit(out, "error", { code: err.code ?? err.type, message: err.message, param: err.param })
      emit(out, "response.failed", {
        response: snapshot("failed", { error: { code: err.code ?? "server_error", message: err.message } }),
      })
      return out
    }

    const framed = StreamCodec.frames(events, onEvent, onError, () => finished)
    const onDone = options.onDone
    if (onDone === undefined) return framed
    // The chunk that ends with response.completed waits for onDone.
    return framed.pipe(
      Stream.mapChunksEffect((chunk) => {
        const response = done
        if (response === undefined) return Effect.succeed(chunk)
        done = undefined
        return Effect.as(onDone(response), chunk)
      }),
    )
  })
