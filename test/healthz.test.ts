import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "./support/gateway.ts"

describe("reference gateway (in-process)", () => {
  let gw: RunningGateway
  beforeAll(async () => {
    gw = await startGateway({
      providers: { mock: { type: "mock" } },
      models: { mock: { provider: "mock", model: "mock" } },
    })
  })
  afterAll(() => gw.close())

  it("answers GET /healthz with 200 {status: ok}", async () => {
    const res = await fetch(`${gw.url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: "ok" })
  })

  it("answers an unknown path with a JSON 404", async () => {
    const res = await fetch(`${gw.url}/no/such/path`)
    expect(res.status).toBe(404)
    expect((await res.json()).error.message).toContain("/no/such/path")
  })
})
