/**
 * The schema, as numbered migrations run at start by @effect/sql's Migrator (its table
 * `sluice_migrations` records what ran, so a second start runs nothing). Instances starting
 * together wait for whichever took the migration lock.
 */
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { Effect, Schedule } from "effect"

const keys = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS sluice_keys (
      id text PRIMARY KEY,
      key_hash text NOT NULL UNIQUE,
      record jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
  ]),
)

const ledger = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS sluice_spend (
      key_id text NOT NULL,
      period text NOT NULL,
      period_key text NOT NULL,
      nano_usd bigint NOT NULL DEFAULT 0,
      requests bigint NOT NULL DEFAULT 0,
      input_tokens bigint NOT NULL DEFAULT 0,
      output_tokens bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (key_id, period, period_key)
    )`,
  ]),
)

const requestLog = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS sluice_request_log (
      id bigserial PRIMARY KEY,
      time timestamptz NOT NULL,
      request_id text NOT NULL,
      key_id text,
      key_name text,
      ingress text NOT NULL,
      operation text NOT NULL,
      stream boolean NOT NULL,
      model_requested text,
      model_served text,
      provider text,
      status integer NOT NULL,
      input_tokens integer,
      output_tokens integer,
      cost_usd double precision,
      latency_ms integer NOT NULL,
      cache_hit boolean NOT NULL DEFAULT false,
      error_class text,
      prompt text
    )`,
    sql`CREATE INDEX IF NOT EXISTS sluice_request_log_time ON sluice_request_log (time)`,
    sql`CREATE INDEX IF NOT EXISTS sluice_request_log_key_time ON sluice_request_log (key_id, time)`,
  ]),
)

export const loader = Migrator.fromRecord({
  "0001_keys": Effect.asVoid(keys),
  "0002_spend": Effect.asVoid(ledger),
  "0003_request_log": Effect.asVoid(requestLog),
})

export const table = "sluice_migrations"

/** Run what has not run yet; returns the migrations applied now ([] when up to date). */
export const run = Migrator.make({})({ loader, table }).pipe(
  Effect.retry({
    while: (e) => e._tag === "MigrationError" && e.reason === "locked",
    schedule: Schedule.spaced("200 millis").pipe(Schedule.compose(Schedule.recurs(50))),
  }),
)
