/** Where a limiter or ledger keeps its state. The `redis:` section itself is @sluice/auth's schema. */
import { Schema } from "effect"

export const StoreKind = Schema.Literal("memory", "redis")
