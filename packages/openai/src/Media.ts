/**
 * Media in the OpenAI format: images as `image_url` (data: or http URL), audio as `input_audio`
 * (base64 + format), documents as `file.file_data` (a data: URL). Canonical media is a base64
 * payload with a media type, or a URL.
 */
import type { Parts } from "@sluice/schema"

export interface DataUrl {
  readonly mediaType: string
  readonly data: string
}

const dataUrlPattern = /^data:([^;,]*)((?:;[^;,=]+=[^;,]*)*)(;base64)?,(.*)$/s

/** Parse `data:<mime>[;param=v];base64,<data>`; undefined when not a base64 data URL. */
export const parseDataUrl = (url: string): DataUrl | undefined => {
  const m = dataUrlPattern.exec(url)
  if (m === null || m[3] === undefined) return undefined
  return { mediaType: m[1] === "" ? "application/octet-stream" : m[1]!, data: m[4]! }
}

export const toDataUrl = (mediaType: string, data: string): string => `data:${mediaType};base64,${data}`

export const isHttpUrl = (url: string): boolean => /^https?:\/\//i.test(url)

/** OpenAI input_audio formats are file extensions; canonical carries a MIME type. */
export const audioFormatOf = (mediaType: string): string => {
  const sub = mediaType.slice(mediaType.indexOf("/") + 1).toLowerCase()
  return sub === "mpeg" ? "mp3" : sub === "x-wav" || sub === "wave" ? "wav" : sub
}

export const audioMediaType = (format: string): string =>
  format === "mp3" ? "audio/mpeg" : `audio/${format.toLowerCase()}`

const extensions: Record<string, string> = {
  "application/pdf": "pdf",
  "text/plain": "txt",
  "text/markdown": "md",
  "text/csv": "csv",
  "application/json": "json",
}

/** A filename for a document sent as file_data (OpenAI wants one). */
export const filenameFor = (mediaType: string): string => `document.${extensions[mediaType] ?? "bin"}`

export const kindOf = (source: Parts.MediaSource): "image" | "audio" | "file" => {
  const mt = source.mediaType ?? ""
  if (source.kind === "url") return "image"
  if (mt.startsWith("image/")) return "image"
  if (mt.startsWith("audio/")) return "audio"
  return "file"
}

/**
 * A gateway file named by `file_id` (`file-…`, minted by the gateway's `/v1/files`), as the
 * canonical request carries it until the files middleware puts the content inline. An id the
 * gateway could not have minted is refused where it is decoded.
 */
export const fileRefPrefix = "sluice-file:"

export const fileRef = (fileId: string): Parts.ImagePart | undefined =>
  /^file-[a-z0-9]{1,40}$/.test(fileId)
    ? { type: "image", source: { kind: "url", url: `${fileRefPrefix}${fileId}` } }
    : undefined
