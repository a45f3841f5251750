export * as MockUpstream from "./MockUpstream.ts"
export * as Stub from "./Stub.ts"
export * as TestIngress from "./TestIngress.ts"
