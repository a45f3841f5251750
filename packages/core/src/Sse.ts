/**
 * Server-sent events from an upstream's byte stream (every provider that reads SSE uses this): UTF-8 decoded across chunk boundaries,
 * lines split on \n / \r\n, events dispatched on blank lines, `data:` lines joined with \n.
 */
import { Stream } from "effect"

export interface Event {
  readonly event: string | undefined
  readonly data: string
}

export const events = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Event, E, R> =>
  Stream.suspend(() => {
    let event: string | undefined
    let data: Array<string> = []
    const dispatch = (out: Array<Event>) => {
      if (data.length > 0) out.push({ event, data: data.join("\n") })
      event = undefined
      data = []
    }
    const onLine = (line: string): Array<Event> => {
      const out: Array<Event> = []
      if (line === "") dispatch(out)
      else if (!line.startsWith(":")) {
        const colon = line.indexOf(":")
        const field = colon === -1 ? line : line.slice(0, colon)
        let value = colon === -1 ? "" : line.slice(colon + 1)
        if (value.startsWith(" ")) value = value.slice(1)
        if (field === "data") data.push(value)
        else if (field === "event") event = value
      }
      return out
    }
    return bytes.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.mapConcat(onLine),
      // A last event without its blank line still counts.
      Stream.concat(
        Stream.suspend(() => {
          const out: Array<Event> = []
          dispatch(out)
          return Stream.fromIterable(out)
        }),
      ),
    )
  })
