/** The shared `redis:` section as this package reads it (fields it does not know are others'). */
import { Schema } from "effect"

export const RedisSection = Schema.Struct(
  {
    url: Schema.String.pipe(Schema.filter((s) => /^rediss?:\/\/./.test(s) || "expected a redis:// or rediss:// URL")),
    prefix: Schema.optionalWith(Schema.String, { default: () => "sluice:" }),
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

export const StoreKind = Schema.Literal("memory", "redis")
