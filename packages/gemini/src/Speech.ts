/**
 * Speech output on Gemini TTS models: a canonical request for audio (`output.audio`) becomes
 * `speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName`. OpenAI's voice names map to Gemini
 * voices (a provider's `voices` option overrides or adds names); Gemini's own names pass through.
 * Gemini answers 24 kHz 16-bit mono PCM (`audio/L16;codec=pcm;rate=24000`), so only the `pcm`
 * and `wav` formats can be served; any other is refused before the upstream is called.
 */
import { Errors } from "@sluice/schema"

/** OpenAI's voices → the Gemini voice that sounds nearest (by Google's one-word descriptions). */
export const defaultVoices: Readonly<Record<string, string>> = {
  alloy: "Kore",
  ash: "Charon",
  ballad: "Enceladus",
  coral: "Aoede",
  echo: "Puck",
  fable: "Fenrir",
  onyx: "Orus",
  nova: "Leda",
  sage: "Iapetus",
  shimmer: "Callirrhoe",
  verse: "Umbriel",
  marin: "Despina",
  cedar: "Algieba",
}

/** The formats a PCM answer can be served as without an audio encoder. */
export const formats: ReadonlyArray<string> = ["pcm", "wav"]

export const voiceName = (voice: string, voices: Readonly<Record<string, string>>): string =>
  voices[voice] ?? defaultVoices[voice] ?? voice

/** The speechConfig for a request's audio output, or an error for a format Gemini cannot give. */
export const speechConfig = (
  audio: { readonly voice?: string | undefined; readonly format?: string | undefined },
  voices: Readonly<Record<string, string>> = {},
): Errors.InvalidRequest | Record<string, unknown> | undefined => {
  if (audio.format !== undefined && !formats.includes(audio.format))
    return new Errors.InvalidRequest({
      message: `response_format '${audio.format}' is not available from Gemini TTS models, which answer 24 kHz 16-bit PCM: use 'wav' or 'pcm'`,
      param: "response_format",
    })
  if (audio.voice === undefined) return undefined
  return { voiceConfig: { prebuiltVoiceConfig: { voiceName: voiceName(audio.voice, voices) } } }
}
