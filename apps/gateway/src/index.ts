export * as Assemble from "./Assemble.ts"
export * as Modules from "./Modules.ts"
export * as Import from "./commands/Import.ts"
