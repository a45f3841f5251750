/** Model listings, both ways: `{object:"list", data:[{id, object:"model", created, owned_by}]}`. */
import type { ModelInfo } from "@sluice/schema"
import { compact } from "./Decode.ts"
import type * as Wire from "./Wire.ts"

export const encodeModel = (m: ModelInfo): Wire.Model => ({
  id: m.id,
  object: "model",
  created: m.created ?? 0,
  owned_by: m.provider,
})

export const encode = (models: ReadonlyArray<ModelInfo>): Wire.ModelList => ({
  object: "list",
  data: models.map(encodeModel),
})

/** An upstream's list → gateway ids (`<provider name>/<upstream id>`, which the router accepts). */
export const decode = (w: Wire.ModelList, provider: string): Array<ModelInfo> =>
  w.data.map((m) =>
    compact<ModelInfo>({
      id: `${provider}/${m.id}`,
      provider,
      created: m.created,
      operations: /embed/i.test(m.id) ? ["embed"] : ["chat"],
    }),
  )
