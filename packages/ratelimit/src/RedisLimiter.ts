/**
 * Token buckets in Redis, shared by every gateway instance on it: each check-and-take is one
 * Lua script, so it is atomic across instances (N concurrent requests over the limit admit
 * exactly the limit, whichever instance they reach) and uses Redis's clock, not the instances'.
 * Every command is bounded by a timeout that measures Redis, not this process's backlog (see
 * Deadline); a failure is `LimiterUnavailable` and the middleware applies the configured fail
 * mode. A take whose answer comes after its deadline is given back.
 */
import { Effect } from "effect"
import type { Redis } from "ioredis"
import * as Deadline from "./Deadline.ts"
import { type Decision, type LimiterStore, LimiterUnavailable, windowMs } from "./Limiter.ts"

// Shared by both scripts: the bucket's level now, refilled from its last write.
const levelFn = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[#ARGV])
local function level(key, cap)
  local v = redis.call('HMGET', key, 'l', 't')
  local l = tonumber(v[1])
  local at = tonumber(v[2])
  if l == nil or at == nil then return cap end
  local e = now - at
  if e < 0 then e = 0 end
  l = l + e * cap / window
  if l > cap then l = cap end
  return l
end
local function save(key, l, cap)
  redis.call('HSET', key, 'l', tostring(l), 't', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((cap - l) * window / cap) + 1000)
end
local function reset(l, cap)
  if l >= cap then return 0 end
  return math.ceil((cap - l) * window / cap)
end
`

/**
 * KEYS: requests bucket, tokens bucket. ARGV: rpm (0 = none), tpm (0 = none), token cost, window.
 * Returns {status (1 ok, 0 wait, 2 never), requests left, requests reset ms, tokens left,
 * tokens reset ms, wait ms}.
 */
const takeScript = `${levelFn}
local rcap = tonumber(ARGV[1])
local tcap = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local r = 0
local k = 0
if rcap > 0 then r = level(KEYS[1], rcap) end
if tcap > 0 then k = level(KEYS[2], tcap) end
local status = 1
local wait = 0
if tcap > 0 and cost > tcap then
  status = 2
else
  if rcap > 0 and r < 1 then
    status = 0
    wait = math.max(wait, math.ceil((1 - r) * window / rcap))
  end
  if tcap > 0 and cost > 0 and k < cost then
    status = 0
    wait = math.max(wait, math.ceil((cost - k) * window / tcap))
  end
end
if status == 1 then
  if rcap > 0 then r = r - 1; save(KEYS[1], r, rcap) end
  if tcap > 0 then k = k - cost; save(KEYS[2], k, tcap) end
end
return {status, math.floor(r), reset(r, rcap), math.floor(k), reset(k, tcap), wait}
`

/** KEYS: tokens bucket. ARGV: tpm, delta, window. Returns the tokens left. */
const adjustScript = `${levelFn}
local cap = tonumber(ARGV[1])
local l = level(KEYS[1], cap) - tonumber(ARGV[2])
if l > cap then l = cap end
save(KEYS[1], l, cap)
return math.floor(l)
`

/** KEYS: requests bucket, tokens bucket. ARGV: rpm (0 = none), tpm (0 = none), tokens, window. */
const giveBackScript = `${levelFn}
local rcap = tonumber(ARGV[1])
local tcap = tonumber(ARGV[2])
if rcap > 0 then
  local r = level(KEYS[1], rcap) + 1
  if r > rcap then r = rcap end
  save(KEYS[1], r, rcap)
end
if tcap > 0 then
  local k = level(KEYS[2], tcap) + tonumber(ARGV[3])
  if k > tcap then k = tcap end
  save(KEYS[2], k, tcap)
end
return 1
`

type Reply = [number, number, number, number, number, number]

interface Scripts {
  sluiceTake(
    requestsKey: string,
    tokensKey: string,
    rpm: number,
    tpm: number,
    cost: number,
    window: number,
  ): Promise<Reply>
  sluiceAdjust(tokensKey: string, tpm: number, delta: number, window: number): Promise<number>
  sluiceGiveBack(
    requestsKey: string,
    tokensKey: string,
    rpm: number,
    tpm: number,
    tokens: number,
    window: number,
  ): Promise<number>
}

export interface RedisLimiterOptions {
  readonly redis: Redis
  /** Prefix of every key, e.g. `sluice:`. */
  readonly prefix: string
  /** Bound on each Redis call. */
  readonly timeoutMs: number
}

export const make = (options: RedisLimiterOptions): LimiterStore => {
  const { redis, prefix, timeoutMs } = options
  // defineCommand sends EVALSHA and falls back to EVAL after a NOSCRIPT (e.g. a restarted Redis).
  redis.defineCommand("sluiceTake", { numberOfKeys: 2, lua: takeScript })
  redis.defineCommand("sluiceAdjust", { numberOfKeys: 1, lua: adjustScript })
  redis.defineCommand("sluiceGiveBack", { numberOfKeys: 2, lua: giveBackScript })
  const scripts = redis as unknown as Scripts
  // One hash tag per caller: both buckets land on the same cluster slot.
  const keys = (key: string) => [`${prefix}rl:{${key}}:r`, `${prefix}rl:{${key}}:t`] as const

  const run = <A>(what: string, f: () => Promise<A>, late?: (a: A) => void) =>
    Deadline.bounded({
      run: f,
      timeoutMs,
      late,
      onError: (reason) => new LimiterUnavailable({ reason: `${what}: ${reason}` }),
    })

  return {
    take: (key, limits, tokens) => {
      const [r, t] = keys(key)
      const rpm = limits.rpm ?? 0
      const tpm = limits.tpm ?? 0
      return run(
        "rate limit check",
        () => scripts.sluiceTake(r, t, rpm, tpm, tokens, windowMs),
        // Taken after the caller was already answered: nobody uses it, so it goes back.
        ([status]) => {
          if (status === 1) scripts.sluiceGiveBack(r, t, rpm, tpm, tokens, windowMs).catch(() => {})
        },
      ).pipe(
        Effect.map(
          ([status, rLeft, rReset, tLeft, tReset, wait]): Decision => ({
            allowed: status === 1,
            retryAfterMs: status === 0 ? wait : undefined,
            requests:
              limits.rpm === undefined
                ? undefined
                : { limit: limits.rpm, remaining: Math.max(0, rLeft), resetMs: rReset },
            tokens:
              limits.tpm === undefined
                ? undefined
                : { limit: limits.tpm, remaining: Math.max(0, tLeft), resetMs: tReset },
          }),
        ),
      )
    },
    adjust: (key, limits, delta) =>
      limits.tpm === undefined || delta === 0
        ? Effect.void
        : run("rate limit correction", () => scripts.sluiceAdjust(keys(key)[1], limits.tpm!, delta, windowMs)).pipe(
            Effect.asVoid,
          ),
  }
}
