import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { show, startCliSetup, type CliSetup } from '../support/psc.ts';

describe('psc, the command line: changing, testing, running and retiring platforms', () => {
  let setup: CliSetup;
  before(async () => {
    setup = await startCliSetup('cli-platforms');
  });
  after(async () => {
    await setup?.stop();
  });

  it('when a platform is tested, edited, run and retired through psc, then each step shows in the API', async () => {
    const { psc, pscJson } = setup;
    const name = await setup.addPlatform();

    const tested = await psc('platforms', 'test', name);
    assert.equal(tested.code, 0, show(tested));
    assert.match(tested.stdout, /booths\s*│ true\s*│ 200/);

    const edited = await pscJson<{ description: string; version: number }>(
      'platforms',
      'edit',
      name,
      '--set',
      '{"description":"booths of the fair"}',
    );
    assert.equal(edited.body.description, 'booths of the fair');

    const ran = await pscJson<{
      jobs: { id: string; status: string; stats: { fetched: number } }[];
    }>('run', 'sync', '--platform', name, '--resource', 'booths', '--wait');
    assert.equal(ran.body.jobs.length, 1);
    assert.equal(ran.body.jobs[0]!.status, 'succeeded');
    assert.equal(ran.body.jobs[0]!.stats.fetched, 25);

    const listed = await pscJson<{ items: { id: string }[] }>('jobs', 'ls', '--platform', name);
    assert.ok(listed.body.items.some((j) => j.id === ran.body.jobs[0]!.id));
    const table = await psc('jobs', 'ls', '--platform', name, '--status', 'succeeded');
    assert.equal(table.code, 0, show(table));
    assert.ok(table.stdout.includes(ran.body.jobs[0]!.id), show(table));

    const schedules = await psc('schedules', 'ls', '--platform', name);
    assert.equal(schedules.code, 0, show(schedules));
    const backfills = await pscJson<{ items: unknown[] }>('backfill', 'ls', '--platform', name);
    assert.deepEqual(backfills.body.items, []);

    const removed = await psc('platforms', 'rm', name);
    assert.equal(removed.code, 0, show(removed));
    const gone = await psc('platforms', 'show', name);
    assert.equal(gone.code, 1, show(gone));
    assert.match(gone.stderr, new RegExp(`no platform named "${name}"`));
    assert.match(gone.stderr, /psc platforms ls/);
  });
});
