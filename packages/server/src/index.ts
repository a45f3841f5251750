export * as App from "./App.ts"
export * as Body from "./Body.ts"
export * as FetchHandler from "./FetchHandler.ts"
export * as NodeServer from "./NodeServer.ts"
