/**
 * A server-sent events parser (WHATWG rules: `event:`/`data:` fields, multi-line data, comments,
 * CRLF/LF/CR line ends) fed text chunks of any size, for reading an upstream's stream.
 */

export interface SseMessage {
  readonly event: string | undefined
  readonly data: string
}

export class Parser {
  private buffer = ""
  private event: string | undefined = undefined
  private data: Array<string> = []

  /** Feed a chunk; returns the messages it completed. */
  feed(chunk: string): Array<SseMessage> {
    this.buffer += chunk
    const out: Array<SseMessage> = []
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer)
      // A lone trailing \r may be the first half of \r\n: wait for more.
      if (m === null || (m[0] === "\r" && m.index === this.buffer.length - 1)) break
      const line = this.buffer.slice(0, m.index)
      this.buffer = this.buffer.slice(m.index + m[0].length)
      this.line(line, out)
    }
    return out
  }

  /** The stream ended: a message without its final blank line still counts. */
  flush(): Array<SseMessage> {
    const out: Array<SseMessage> = []
    if (this.buffer !== "") this.line(this.buffer, out)
    this.buffer = ""
    this.line("", out)
    return out
  }

  private line(line: string, out: Array<SseMessage>): void {
    if (line === "") {
      if (this.data.length > 0 || this.event !== undefined) {
        out.push({ event: this.event, data: this.data.join("\n") })
      }
      this.event = undefined
      this.data = []
      return
    }
    if (line.startsWith(":")) return
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "event") this.event = value
    else if (field === "data") this.data.push(value)
  }
}
