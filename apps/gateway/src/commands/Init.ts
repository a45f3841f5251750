/** `sluice init [--path FILE] [--force]`: write a commented starter config. */
import * as Fs from "node:fs"
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { CliFailure } from "./CliFailure.ts"

export const starter = (): string => Fs.readFileSync(new URL("../../sluice.example.yaml", import.meta.url), "utf8")

export const command = Command.make(
  "init",
  {
    path: Options.text("path").pipe(
      Options.withDescription("where to write the config"),
      Options.withDefault("sluice.yaml"),
    ),
    force: Options.boolean("force").pipe(Options.withDescription("overwrite an existing file")),
  },
  ({ path, force }) =>
    Effect.suspend(() => {
      if (!force && Fs.existsSync(path))
        return Effect.fail(new CliFailure(`${path} exists; pass --force to overwrite it`))
      Fs.writeFileSync(path, starter())
      return Console.log(`wrote ${path} — start with: sluice start --config ${path}`)
    }),
).pipe(Command.withDescription("Write a commented starter config"))
