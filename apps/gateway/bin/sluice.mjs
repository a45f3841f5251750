#!/usr/bin/env node
// The packages ship TypeScript sources; tsx compiles them on load (cached), so there is no
// separate build step between a checkout and a running gateway.
import { register } from "tsx/esm/api"

register()
await import("../src/main.ts")
