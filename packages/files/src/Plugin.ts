/**
 * `files` for the YAML-driven gateway, on by default: the `files:` and `batches:` sections, the
 * long-lived file store and batch engine, and the middleware that puts gateway files named by a
 * request inline (Resolve). The routes are mounted by the Gemini and OpenAI ingresses
 * (Service.geminiRoutes / openaiRoutes); the engine runs batch items through the handler each
 * config generation attaches.
 */
import { Effect } from "effect"
import type { Middleware } from "@sluice/core"
import * as Resolve from "./Resolve.ts"
import { BatchesSection, FilesSection } from "./Section.ts"
import { FilesService, layerConfig } from "./Service.ts"

export const plugin: Middleware.Plugin<FilesService> = {
  name: "files",
  sections: { files: FilesSection, batches: BatchesSection },
  services: layerConfig,
  fromConfig: () =>
    Effect.map(FilesService, (f) => ({
      middleware: Resolve.middleware({ store: f.store, inlineMaxBytes: f.files.inlineMaxBytes }),
    })),
}
