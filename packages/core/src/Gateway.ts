/**
 * The terminal handler: resolve the model, then try its targets — retries with backoff on the
 * same candidate, then the fallbacks in order, each pick weighted-random among the deployments
 * whose circuit is closed. A streamed answer is committed once its first event arrives: from
 * then on nothing is retried, and a later failure reaches the client as a stream error.
 */
import type { HttpClient } from "@effect/platform"
import {
  Cause,
  type Chunk,
  type Clock,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Option,
  Queue,
  type Random,
  Scope,
  Stream,
} from "effect"
import { type ChatRequest, Errors, type GatewayError, type StreamEvent } from "@sluice/schema"
import type { ConfigError, GatewayConfig } from "./Config.ts"
import type { GatewayResponse, Handler, RequestContext, Route } from "./Handler.ts"
import type { MiddlewareSpec } from "./Middleware.ts"
import * as Chunked from "./Chunked.ts"
import * as ModelId from "./ModelId.ts"
import * as RouteParams from "./RouteParams.ts"
import * as Pipeline from "./Pipeline.ts"
import type { CallContext, Provider, ProviderType } from "./Provider.ts"
import * as ProviderRegistry from "./ProviderRegistry.ts"
import * as Resilience from "./Resilience.ts"
import * as Router from "./Router.ts"
import * as Upstream from "./Upstream.ts"

/** Weighted-random pick among deployments. */
export const pick = (deployments: ReadonlyArray<Router.Target>, random = Math.random): Router.Target => {
  if (deployments.length === 1) return deployments[0]!
  let total = 0
  for (const d of deployments) total += d.weight
  let r = random() * total
  for (const d of deployments) {
    r -= d.weight
    if (r < 0) return d
  }
  return deployments[deployments.length - 1]!
}

export interface Attempt {
  readonly provider: Provider
  readonly target: Router.Target
  readonly call: CallContext
  /** 1-based number of this attempt within the request. */
  readonly number: number
}

const constant = (n: number) => () => n

const keyOf = (t: Router.Target) => `${t.provider}/${t.model}`

const forwardHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> | undefined => {
  const tp = headers.traceparent
  if (tp === undefined) return undefined
  const ts = headers.tracestate
  return ts === undefined ? { traceparent: tp } : { traceparent: tp, tracestate: ts }
}

interface Outcome<A> {
  readonly value: A
  readonly attempt: Attempt
}

const responseHeaders = (a: Attempt) => ({ "x-sluice-target": keyOf(a.target), "x-sluice-attempts": String(a.number) })

const routeOf = (a: Attempt): Route => ({
  target: keyOf(a.target),
  provider: a.target.provider,
  model: a.target.model,
  attempts: a.number,
})

export interface TerminalOptions {
  readonly router: Router.RouterService
  readonly registry: ProviderRegistry.Registry
  readonly resilience: GatewayConfig["resilience"]
  /** Breaker state shared across config generations; a fresh one when absent. */
  readonly breaker?: Resilience.CircuitBreaker | undefined
  /** Time for retry budgets (Effect's Clock, so tests can use TestClock); the system clock when absent. */
  readonly clock?: Clock.Clock | undefined
  /** Randomness for balancing and backoff jitter (Effect's Random); Math.random when absent. */
  readonly random?: Random.Random | undefined
}

export const terminal = (options: TerminalOptions): Handler => {
  const { router, registry, resilience } = options
  const now = options.clock === undefined ? Date.now : () => options.clock!.unsafeCurrentTimeMillis()
  const roll: Effect.Effect<number> = options.random === undefined ? Effect.sync(Math.random) : options.random.next
  const breaker =
    options.breaker ??
    new Resilience.CircuitBreaker(resilience.circuitBreaker.failures, resilience.circuitBreaker.cooldown, now)

  const apiKeyFor = (target: Router.Target, ctx: RequestContext) => {
    // A virtual key that carries its own credential for this provider uses it (bring your own key).
    const own = ctx.principal?.credentials?.[target.provider]
    if (own !== undefined) return own
    if (target.apiKey !== undefined) return target.apiKey
    // A passthrough provider uses the client's own key when no virtual key was verified.
    if (
      ctx.principal === undefined &&
      ctx.credential !== undefined &&
      registry.config(target.provider)?.passthrough === true
    ) {
      return ctx.credential
    }
    return undefined
  }

  /** Run `once` against the model's targets with retries and fallbacks. */
  const execute = <A>(
    ctx: RequestContext,
    model: string,
    once: (attempt: Attempt, timeout: Router.Resolution["timeout"]) => Effect.Effect<A, GatewayError>,
  ): Effect.Effect<Outcome<A>, GatewayError> =>
    Effect.gen(function* () {
      // The ingresses check the id when they decode; a handler called some other way gets the same rule.
      const reason = ModelId.problem(model)
      if (reason !== undefined) return yield* Effect.fail(ModelId.invalid(reason))
      const resolved = router.resolve(model)
      if (Either.isLeft(resolved)) return yield* Effect.fail(resolved.left)
      const resolution = resolved.right
      const rule = resolution.retry
      const policy: Resilience.RetryPolicy = {
        attempts: rule?.attempts ?? resilience.retry.attempts,
        backoff: rule?.backoff ?? resilience.retry.backoff,
        maxBackoff: rule?.maxBackoff ?? resilience.retry.maxBackoff,
        budget: resilience.retry.budget,
      }
      const timeout = { ...resilience.timeout, ...resolution.timeout }
      const deadline = now() + policy.budget
      let lastError: GatewayError | undefined
      let number = 0
      for (const candidate of resolution.candidates) {
        for (let tries = 1; tries <= policy.attempts; tries++) {
          const healthy = candidate.deployments.filter((d) => !breaker.isOpen(keyOf(d)))
          if (healthy.length === 0) {
            const wait = breaker.retryIn(candidate.deployments.map(keyOf))
            lastError ??= new Errors.Unavailable({
              message: `every deployment of "${candidate.id}" is cooling down after repeated failures`,
              retryAfterSeconds: Math.ceil(wait / 1000),
            })
            break
          }
          const target = healthy.length === 1 ? healthy[0]! : pick(healthy, constant(yield* roll))
          const provider = registry.get(target.provider)
          if (provider === undefined)
            return yield* Effect.fail(
              new Errors.Internal({ message: `provider "${target.provider}" is not configured` }),
            )
          number++
          const attempt: Attempt = {
            provider,
            target,
            number,
            call: { requestId: ctx.id, apiKey: apiKeyFor(target, ctx), forwardHeaders: forwardHeaders(ctx.headers) },
          }
          const exit = yield* Effect.exit(
            once(attempt, timeout).pipe(
              Effect.withSpan("sluice.attempt", {
                // The call site is always this line: capturing a stack per attempt costs more
                // than the rest of the span and tells nobody anything.
                captureStackTrace: false,
                attributes: {
                  "gen_ai.provider.name": provider.type,
                  "gen_ai.request.model": target.model,
                  "sluice.provider": target.provider,
                  "sluice.attempt": number,
                  "sluice.candidate": candidate.id,
                },
              }),
            ),
          )
          if (Exit.isSuccess(exit)) {
            breaker.success(keyOf(target))
            return { value: exit.value, attempt }
          }
          const failure = Cause.failureOption(exit.cause)
          if (Option.isNone(failure)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
          const error = failure.value
          lastError = error
          if (!Resilience.isRetriable(error)) {
            if (Resilience.shouldFallback(error)) break
            return yield* Effect.fail(error)
          }
          breaker.failure(keyOf(target))
          if (tries < policy.attempts) {
            const wait = Resilience.delayFor(policy, tries, error, constant(yield* roll))
            if (now() + wait >= deadline) break
            yield* Effect.sleep(Duration.millis(wait))
          }
        }
        if (now() >= deadline) break
      }
      return yield* Effect.fail(
        lastError ?? new Errors.NotFound({ message: `model "${model}" has no reachable target` }),
      )
    })

  /**
   * `effect` failing with a Timeout after `ms`. With `abort` (the provider's calls take it), a
   * plain timer aborts the call and the call's failure is reported as the timeout: nothing is
   * forked. Otherwise the effect is raced against a timer (`timeoutFail`, a fiber per call).
   */
  const withTimeout = <A>(
    effect: Effect.Effect<A, GatewayError>,
    ms: number | undefined,
    what: string,
    abort?: Upstream.Abort,
  ): Effect.Effect<A, GatewayError> => {
    if (ms === undefined) return effect
    const timedOut = () => new Errors.Timeout({ message: `the upstream did not answer within ${ms} ms (${what})` })
    if (abort === undefined) return Effect.timeoutFail(effect, { duration: Duration.millis(ms), onTimeout: timedOut })
    return Effect.suspend(() => {
      let expired = false
      const timer = setTimeout(() => {
        expired = true
        abort.abort()
      }, ms)
      return effect.pipe(
        Effect.catchAll((e) => Effect.fail(expired ? timedOut() : e)),
        Effect.ensuring(Effect.sync(() => clearTimeout(timer))),
      )
    })
  }

  /** A provider call under its deadline: by aborting it when the provider allows, else by a race. */
  const callWithin = <A>(
    provider: Provider,
    call: Effect.Effect<A, GatewayError>,
    ms: number | undefined,
    what: string,
  ): Effect.Effect<A, GatewayError> => {
    if (ms === undefined || provider.abortable !== true) return withTimeout(call, ms, what)
    return Effect.suspend(() => {
      const abort = new Upstream.Abort()
      return Effect.locally(withTimeout(call, ms, what, abort), Upstream.currentAbort, abort)
    })
  }

  /** Open a stream and wait for its first events; the rest streams on from the same pull. */
  const openStream = (
    chat: ChatRequest,
    attempt: Attempt,
    timeout: Router.Resolution["timeout"],
  ): Effect.Effect<Stream.Stream<StreamEvent, GatewayError>, GatewayError> =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const total = timeout?.total
      const abortable = attempt.provider.abortable === true
      // Calls the provider makes for this stream can be ended by its deadlines (below).
      const abort = total === undefined && !abortable ? undefined : new Upstream.Abort()
      // The scope outlives this effect on success (the stream closes it); on failure or
      // interruption here it closes at once, aborting the upstream call.
      const { pull, first } = yield* Effect.onExit(
        Effect.gen(function* () {
          const events = attempt.provider.chatStream(
            RouteParams.apply({ ...chat, model: attempt.target.model }, attempt.target.params),
            attempt.call,
          )
          // A pulled stream (the shared transport's) is pulled as it is; another through a channel.
          const own = Chunked.pullOf(events)
          const pull =
            own === undefined
              ? yield* Stream.toPull(events).pipe(Scope.extend(scope))
              : yield* Effect.as(Scope.addFinalizerExit(scope, own.release), own.pull)
          const opened = withTimeout(
            Effect.mapError(pull, (e) =>
              Option.getOrElse(
                e,
                () =>
                  new Errors.UpstreamError({
                    message: "the upstream stream ended before any event",
                    status: 502,
                    provider: attempt.target.provider,
                  }),
              ),
            ),
            timeout?.firstByte,
            "first byte",
            abortable ? abort : undefined,
          )
          // The upstream call is made by the first pull.
          const first = yield* abort === undefined ? opened : Effect.locally(opened, Upstream.currentAbort, abort)
          return { pull, first }
        }),
        (exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit)),
      )
      // The first events, then the rest from the same pull: one stage, no concatenation.
      let head: Chunk.Chunk<StreamEvent> | undefined = first
      const rest = (next: typeof pull): typeof pull =>
        Effect.suspend(() => {
          if (head === undefined) return next
          const chunk = head
          head = undefined
          return Effect.succeed(chunk)
        })
      if (total === undefined) return Chunked.pulled({ pull: rest(pull), release: () => Scope.close(scope, Exit.void) })
      let exceeded: GatewayError | undefined
      const timedOut = () => (exceeded ??= new Errors.Timeout({ message: `the upstream stream exceeded ${total} ms` }))
      let expired = false
      if (abort?.used === true) {
        // The total-time limit: one plain timer per stream, nothing per event. The upstream call
        // took the stream's Abort, so the timer ends it directly — a read waiting on the upstream
        // fails at once — and every pull from then on is the timeout.
        const timer = setTimeout(() => {
          expired = true
          abort.abort()
        }, total)
        const timed: typeof pull = Effect.suspend(() =>
          expired
            ? Effect.fail(Option.some(timedOut()))
            : Effect.catchAll(pull, (e) => Effect.fail(expired ? Option.some(timedOut()) : e)),
        )
        return Chunked.pulled({
          pull: rest(timed),
          release: () =>
            Effect.zipRight(
              Effect.sync(() => clearTimeout(timer)),
              Scope.close(scope, Exit.void),
            ),
        })
      }
      // A provider that does not send through the shared transport: one fiber reads the upstream
      // chunk by chunk into a small queue (backpressure still reaches the upstream: it reads ahead
      // by at most `capacity` chunks); the timer interrupts that reader — ending a read that waits
      // on the upstream — and hands the consumer the timeout. (A race per pull, what
      // `Stream.interruptWhen` does, cost more than the rest of the stream path.)
      const queue = yield* Queue.bounded<Exit.Exit<Chunk.Chunk<StreamEvent>, Option.Option<GatewayError>>>(2)
      const read: Effect.Effect<void> = Effect.flatMap(Effect.exit(pull), (exit) =>
        Effect.zipRight(Queue.offer(queue, exit), Exit.isSuccess(exit) ? read : Effect.void),
      )
      // Interruptible whatever region forked them: a client that leaves must stop the read at once.
      const reader = yield* Effect.forkDaemon(Effect.interruptible(read))
      const timer = yield* Effect.forkDaemon(
        Effect.sleep(Duration.millis(total)).pipe(
          Effect.interruptible,
          Effect.zipRight(Fiber.interrupt(reader)),
          Effect.zipRight(
            Effect.suspend(() => {
              expired = true
              return Queue.offer(queue, Exit.fail(Option.some(timedOut())))
            }),
          ),
        ),
      )
      const take: typeof pull = Effect.suspend(() =>
        expired ? Effect.fail(Option.some(timedOut())) : Effect.flatten(Queue.take(queue)),
      )
      return Chunked.pulled({
        pull: rest(take),
        // The reader is interrupted (its read ended) before the upstream call's scope closes.
        release: () =>
          Effect.zipRight(
            Effect.zipRight(Fiber.interruptFork(timer), Fiber.interrupt(reader)),
            Scope.close(scope, Exit.void),
          ),
      })
    })

  return (request): Effect.Effect<GatewayResponse, GatewayError> => {
    switch (request._tag) {
      case "ListModels":
        return Effect.succeed({ _tag: "ListModels", models: router.models, headers: {} })
      case "Chat": {
        const chat = request.chat
        if (chat.stream) {
          return Effect.map(
            execute(request.ctx, chat.model, (a, t) => openStream(chat, a, t)),
            (o): GatewayResponse => ({
              _tag: "ChatStream",
              events: o.value,
              opened: true,
              headers: responseHeaders(o.attempt),
              route: routeOf(o.attempt),
            }),
          )
        }
        return Effect.map(
          execute(request.ctx, chat.model, (a, t) =>
            callWithin(
              a.provider,
              a.provider.chat(RouteParams.apply({ ...chat, model: a.target.model }, a.target.params), a.call),
              t?.total ?? t?.firstByte,
              "response",
            ),
          ),
          (o): GatewayResponse => ({
            _tag: "Chat",
            chat: o.value,
            headers: responseHeaders(o.attempt),
            route: routeOf(o.attempt),
          }),
        )
      }
      case "CountTokens":
        return Effect.map(
          execute(request.ctx, request.chat.model, (a) =>
            a.provider.countTokens({ ...request.chat, model: a.target.model }, a.call),
          ),
          (o): GatewayResponse => ({
            _tag: "CountTokens",
            inputTokens: o.value,
            headers: responseHeaders(o.attempt),
            route: routeOf(o.attempt),
          }),
        )
      case "Embed":
        return Effect.map(
          execute(request.ctx, request.embed.model, (a, t) =>
            callWithin(
              a.provider,
              a.provider.embed({ ...request.embed, model: a.target.model }, a.call),
              t?.total ?? t?.firstByte,
              "response",
            ),
          ),
          (o): GatewayResponse => ({
            _tag: "Embed",
            embed: o.value,
            headers: responseHeaders(o.attempt),
            route: routeOf(o.attempt),
          }),
        )
    }
  }
}

export interface GatewayOptions<Ms extends ReadonlyArray<MiddlewareSpec<any, any>>> {
  readonly config: GatewayConfig
  readonly providerTypes: ReadonlyArray<ProviderType>
  /** Outermost first. */
  readonly middleware: Ms
}

type ErrorOf<M> = M extends MiddlewareSpec<infer E, infer _R> ? E : never
type ContextOf<M> = M extends MiddlewareSpec<infer _E, infer R> ? R : never

/** Build the whole handler: providers from config, the router, the middleware around them. */
export const make = <const Ms extends ReadonlyArray<MiddlewareSpec<any, any>>>(
  options: GatewayOptions<Ms>,
): Effect.Effect<Handler, ConfigError | ErrorOf<Ms[number]>, HttpClient.HttpClient | ContextOf<Ms[number]>> =>
  Effect.gen(function* () {
    const registry = yield* ProviderRegistry.make(options.config, options.providerTypes)
    const router = Router.make(options.config)
    // Resolved once here, never per request: the breaker from the service layer when there is one.
    const breaker = Option.getOrUndefined(yield* Effect.serviceOption(Resilience.Breaker))
    const clock = yield* Effect.clock
    const random = yield* Effect.random
    return yield* Pipeline.build(
      terminal({ router, registry, resilience: options.config.resilience, breaker, clock, random }),
      options.middleware,
    )
  })
