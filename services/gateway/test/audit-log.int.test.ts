import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Knex } from 'knex';
import { createRetention, openDatabase } from '@psc/db';
import { createLogger } from '@psc/telemetry';
import { createIsolatedEnv, waitFor, type IsolatedEnv } from '@psc/testing';
import {
  auditRetention,
  createAuditRepository,
  parseAuditCursor,
  type AuditRepository,
  type NewAuditEntry,
} from '../src/data-access/audit.repository.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';
import { loadConfig } from '../src/config.ts';

const ACTOR = '00000000-0000-4000-8000-000000000001';

const entry = (targetId: string): NewAuditEntry => ({
  at: new Date(),
  actorKeyId: ACTOR,
  action: 'job.run-now.sync',
  targetType: 'platform',
  targetId,
  details: { reason: `why ${targetId}` },
});

/**
 * The audit log as the gateway writes it behind an answered action: against the gateway's own
 * schema in PostgreSQL, with a trigger that refuses inserts while a flag row exists and counts
 * every attempt in a sequence (which a rolled-back insert does not undo).
 */
describe('audit log written behind the answer', () => {
  let env: IsolatedEnv;
  let knex: Knex;
  const logged: string[] = [];
  const logger = createLogger({
    service: 'gateway',
    level: 'error',
    destination: { write: (line: string) => void logged.push(line) },
  });

  before(async () => {
    env = await createIsolatedEnv({ name: 'gateway-audit' });
    knex = await openDatabase({ url: env.databaseUrl, schema: SCHEMA, migrations });
    await knex.raw(`
      create table gateway.audit_refusal (reason text);
      create sequence gateway.audit_attempts;
      create function gateway.refuse_audit() returns trigger language plpgsql as $$
      begin
        perform nextval('gateway.audit_attempts');
        if exists (select 1 from gateway.audit_refusal) then
          raise exception 'audit refused for the test';
        end if;
        return new;
      end $$;
      create trigger refuse_audit before insert on gateway.audit_log
        for each row execute function gateway.refuse_audit();
    `);
  });

  after(async () => {
    await knex?.destroy();
    await env?.cleanup();
  });

  const attempts = async (): Promise<number> => {
    const { rows } = await knex.raw<{ rows: { n: string }[] }>(
      'select last_value as n from gateway.audit_attempts',
    );
    return Number(rows[0]!.n);
  };
  const refuse = (on: boolean) =>
    on
      ? knex.raw(`insert into gateway.audit_refusal values ('test')`)
      : knex.raw('delete from gateway.audit_refusal');
  /** Appends `targetId`'s entry while PostgreSQL refuses it, and waits for the first refusal. */
  const appendRefused = async (audit: AuditRepository, targetId: string) => {
    await refuse(true);
    const before = await attempts();
    await audit.append(entry(targetId));
    await waitFor(async () => (await attempts()) > before, {
      timeoutMs: 5_000,
      message: `the first insert of ${targetId} to be refused`,
    });
  };

  it('when an action is appended, then a list right after it shows the entry', async () => {
    const audit = createAuditRepository(knex, logger);

    await audit.append(entry('read-your-write'));
    const { items } = await audit.list({ limit: 10, targetId: 'read-your-write' });

    assert.equal(items.length, 1);
    assert.equal(items[0]!.details.reason, 'why read-your-write');
  });

  it('when a key change is recorded while an earlier relayed action still gathers, then the trail lists them by the time of each action, page by page', async () => {
    const audit = createAuditRepository(knex, logger);
    const actor = '00000000-0000-4000-8000-0000000000aa';
    const at = (ms: number) => new Date(Date.parse('2026-12-07T10:00:00.000Z') + ms);
    // A key change commits with the key, at once; a relayed action made a moment before it is
    // written behind its answer, up to GATHER_MS later: after the key change.
    await knex.transaction((trx) =>
      audit.record(
        { ...entry('key'), actorKeyId: actor, action: 'api-key.created', at: at(1) },
        trx,
      ),
    );
    await audit.append({ ...entry('relayed'), actorKeyId: actor, at: at(0) });
    await audit.append({ ...entry('relayed-later'), actorKeyId: actor, at: at(2) });

    const all = await audit.list({ limit: 10, actorKeyId: actor });
    assert.deepEqual(
      all.items.map((e) => e.targetId),
      ['relayed-later', 'key', 'relayed'],
      'newest action first, whatever order they were written in',
    );
    assert.equal(all.nextCursor, null);
    const ids = await knex('gateway.audit_log').where({ actor_key_id: actor }).orderBy('id');
    assert.deepEqual(
      ids.map((r: { target_id: string }) => r.target_id),
      ['key', 'relayed', 'relayed-later'],
      'the writes were in another order',
    );

    const seen: string[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await audit.list({
        limit: 1,
        actorKeyId: actor,
        ...(cursor ? { cursor: parseAuditCursor(cursor)! } : {}),
      });
      seen.push(...page.items.map((e) => e.targetId));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, ['relayed-later', 'key', 'relayed'], 'one page each, none twice');
    assert.equal(parseAuditCursor('42'), undefined, 'an id alone is not a cursor');
  });

  it('when PostgreSQL refuses the write for a moment, then the entry is written once when it accepts again', async () => {
    const audit = createAuditRepository(knex, logger);

    await appendRefused(audit, 'refused-once');
    await refuse(false);
    await audit.settled();

    const rows = await knex('gateway.audit_log').where({ target_id: 'refused-once' });
    assert.equal(rows.length, 1, 'written once, after the refusal');
    assert.ok(!logged.some((l) => l.includes('refused-once')), 'not reported as lost');
  });

  it('when an insert is being retried, then entries appended meanwhile are written after it, in the order of their actions', async () => {
    const audit = createAuditRepository(knex, logger);

    await appendRefused(audit, 'first-action');
    // PostgreSQL takes inserts again before the first is retried: the second must still wait.
    await refuse(false);
    await audit.append(entry('second-action'));
    await audit.settled();

    const rows = await knex('gateway.audit_log')
      .whereIn('target_id', ['first-action', 'second-action'])
      .orderBy('id');
    assert.deepEqual(
      rows.map((r: { target_id: string }) => r.target_id),
      ['first-action', 'second-action'],
    );
  });

  it('when PostgreSQL keeps refusing, then the action is logged as not audited, without its details, and the log settles', async () => {
    const audit = createAuditRepository(knex, logger);
    await refuse(true);

    await audit.append(entry('refused-always'));
    await audit.settled();
    await refuse(false);

    const rows = await knex('gateway.audit_log').where({ target_id: 'refused-always' });
    assert.equal(rows.length, 0);
    const line = logged.find((l) => l.includes('refused-always'));
    assert.ok(line, 'the lost entry is logged');
    assert.match(line, /operator action not audited/);
    assert.match(line, /job\.run-now\.sync/);
    assert.doesNotMatch(line, /why refused-always/);
    // The repository keeps working afterwards.
    await audit.append(entry('after-the-outage'));
    assert.equal((await audit.list({ limit: 10, targetId: 'after-the-outage' })).items.length, 1);
  });

  it('when entries are older than PSC_AUDIT_RETENTION_DAYS, then the retention pass deletes them and the recent ones stay listed', async () => {
    const audit = createAuditRepository(knex, logger);
    const day = 86_400_000;
    const aged = (targetId: string, days: number) => ({
      ...entry(targetId),
      at: new Date(Date.now() - days * day),
    });
    await audit.append(aged('retention-old', 8));
    await audit.append(aged('retention-recent', 6));
    await audit.settled();
    const config = loadConfig({
      AMQP_URL: env.amqpUrl,
      DATABASE_URL: env.databaseUrl,
      PSC_AUDIT_RETENTION_DAYS: '7',
    });
    const retention = createRetention({
      knex,
      logger,
      rules: [auditRetention(config.auditRetentionMs)],
    });
    assert.deepEqual(await retention.runOnce(), { 'audit entries': 1 });
    assert.deepEqual((await audit.list({ limit: 10, targetId: 'retention-old' })).items, []);
    assert.equal((await audit.list({ limit: 10, targetId: 'retention-recent' })).items.length, 1);
  });
});
