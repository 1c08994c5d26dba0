import type pg from 'pg';

/**
 * The baselines' tables, in their own schema of the same database psc uses: the same shape as
 * psc's records and ledger, minus everything psc adds on top (outbox, job_runs, traces).
 */
export async function createBaselineSchema(db: pg.Pool): Promise<void> {
  await db.query(`
    create schema if not exists baseline;
    create table if not exists baseline.jobs (
      id uuid primary key,
      resource text not null,
      status text not null default 'queued',
      created_at timestamptz not null default clock_timestamp(),
      finished_at timestamptz
    );
    create table if not exists baseline.records (
      platform_id uuid not null,
      resource text not null,
      key text not null,
      data jsonb not null,
      hash text not null,
      updated_at timestamptz not null default now(),
      primary key (platform_id, resource, key)
    );
    create table if not exists baseline.scheduled_jobs (
      id bigserial primary key,
      schedule int not null,
      scheduled_for timestamptz not null,
      created_at timestamptz not null default clock_timestamp()
    );
    create table if not exists baseline.documents (
      id bigserial primary key,
      run text not null,
      child text not null,
      body jsonb not null,
      fetched_at timestamptz not null default clock_timestamp()
    );
  `);
}

/** The upsert every baseline uses: one statement per batch, rows written only when the hash differs. */
export const UPSERT_SQL = `
  insert into baseline.records as r (platform_id, resource, key, data, hash)
  select $1, $2, u.key, u.data, u.hash
    from unnest($3::text[], $4::jsonb[], $5::text[]) as u(key, data, hash)
  on conflict (platform_id, resource, key) do update
    set data = excluded.data, hash = excluded.hash, updated_at = now()
    where r.hash is distinct from excluded.hash
  returning (xmax = 0) as inserted`;
