/**
 * The web-standard adapter: the same HttpApp as a `(Request) => Promise<Response>` function,
 * for edge runtimes, Bun/Deno-style servers and in-process tests.
 */
import { HttpApp } from "@effect/platform"

export const make = (app: HttpApp.Default): ((request: Request) => Promise<Response>) => HttpApp.toWebHandler(app)
