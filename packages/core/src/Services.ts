/**
 * Long-lived services (key stores, limiter stores, ledgers, Redis clients, circuit breakers) are
 * `Context.Tag` services built by layers. A gateway builds every generation of its pipeline (one
 * per config, see the gateway's Reloader) with ONE memo map that it keeps for its whole life.
 *
 * `stable(name, section, make)` gives such a layer reload semantics: every generation built with
 * that memo map gets the same instance (and its state) for as long as the service's own slice of
 * the config (`section`) is unchanged; a changed slice builds a new instance (and says so in the
 * log), while the old one closes when the last generation using it retires.
 */
import { type Context, Deferred, Effect, Exit, Layer, Redacted, Scope } from "effect"

/** cyrb53: a fast 53-bit string hash, so a fingerprint never holds a secret in clear. */
const hash = (text: string): string => {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)
}

/** A stable text for a config value; a secret counts by its hash (a changed key still changes it). */
export const fingerprint = (value: unknown): string => {
  const walk = (v: unknown): unknown => {
    if (Redacted.isRedacted(v)) return { redacted: hash(String(Redacted.value(v))) }
    if (Array.isArray(v)) return v.map(walk)
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k]
        if (x !== undefined) out[k] = walk(x)
      }
      return out
    }
    return v
  }
  return JSON.stringify(walk(value)) ?? "undefined"
}

interface Entry {
  readonly fingerprint: string
  readonly scope: Scope.CloseableScope
  readonly context: Deferred.Deferred<Context.Context<never>, unknown>
  users: number
}

// One table per memo map: independent gateways in one process never share a service.
const tables = new WeakMap<Layer.MemoMap, Map<string, Entry>>()

const tableOf = (memoMap: Layer.MemoMap): Map<string, Entry> => {
  let table = tables.get(memoMap)
  if (table === undefined) {
    table = new Map()
    tables.set(memoMap, table)
  }
  return table
}

/**
 * The service `name` built by `make()`, shared by every generation built with the same memo map
 * while `section` fingerprints the same; a new one (logged) once it changed. An instance is
 * reference-counted by the generations (scopes) that use it and closes with the last of them.
 *
 * (A memo map alone is not enough: it forgets an entry when the generation that first built it
 * closes, even while a later generation still uses the instance, so a third generation would
 * build a second one.)
 */
export const stable = <A, E, R>(
  name: string,
  section: unknown,
  make: () => Layer.Layer<A, E, R>,
): Layer.Layer<A, E, R> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const memoMap = yield* Layer.CurrentMemoMap
      const table = tableOf(memoMap)
      const print = fingerprint(section)
      const fresh: Entry = {
        fingerprint: print,
        scope: yield* Scope.make(),
        context: yield* Deferred.make<Context.Context<never>, unknown>(),
        users: 0,
      }
      // Check and claim in one step, so concurrent users of one service build it once.
      const [entry, previous] = yield* Effect.sync(() => {
        const found = table.get(name)
        if (found !== undefined && found.fingerprint === print) {
          found.users++
          return [found, undefined] as const
        }
        fresh.users++
        table.set(name, fresh)
        return [fresh, found] as const
      })
      const release = Effect.suspend(() => {
        entry.users--
        if (entry.users > 0) return Effect.void
        if (table.get(name) === entry) table.delete(name)
        return Scope.close(entry.scope, Exit.void)
      })
      yield* Effect.addFinalizer(() => release)
      if (entry !== fresh) {
        yield* Scope.close(fresh.scope, Exit.void)
      } else {
        if (previous !== undefined)
          yield* Effect.logInfo(
            `${name}: its config changed, so it is rebuilt (the previous one closes when its last request ends)`,
          )
        const built = yield* Effect.exit(Layer.buildWithMemoMap(make(), memoMap, fresh.scope))
        yield* Deferred.done(fresh.context, built as Exit.Exit<Context.Context<never>, unknown>)
      }
      return (yield* Deferred.await(entry.context)) as Context.Context<A>
    }),
  ) as Layer.Layer<A, E, R>
