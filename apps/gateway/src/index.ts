export * as Assemble from "./Assemble.ts"
export * as Modules from "./Modules.ts"
