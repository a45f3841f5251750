/**
 * A caller's value quoted back in an error message is capped: the message names the problem,
 * it is no channel for reflecting (or amplifying) whatever the caller sent.
 */

export const maxEcho = 120

/** `value`, cut to `max` characters with an ellipsis when longer; control characters escaped. */
export const cap = (value: string, max = maxEcho): string => {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
}

/** A message bound for a client, whole messages included: at most `max` characters. */
export const capMessage = (message: string, max = 1000): string =>
  message.length > max ? `${message.slice(0, max)}…` : message

/**
 * A schema decode message (`Expected number, actual "…"`) with the caller's value capped: the
 * `actual` part is the value as sent, whatever its size.
 */
export const capDecodeMessage = (message: string, max = maxEcho): string => {
  const at = message.indexOf(", actual ")
  if (at === -1) return capMessage(cap(message, 4 * max))
  const head = message.slice(0, at + ", actual ".length)
  return `${cap(head, 4 * max)}${cap(message.slice(head.length), max)}`
}
