import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SERVICE_EXTRA_FLAGS, SERVICE_NODE_FLAGS, serviceLaunch } from '@psc/testing';
import { ROOT, run } from './support/tools.ts';

/**
 * The image runs deploy/entrypoint.sh, `npm start` and the bench run `serviceLaunch`: the two must
 * start every service with the same Node flags and environment, or production runs with
 * settings nothing measured. The script runs for real, with `node` on its PATH a stub that prints
 * what it was given.
 */
describe('deploy/entrypoint.sh', () => {
  let dir: string;
  let script: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'psc-entrypoint-'));
    await writeFile(
      join(dir, 'node'),
      '#!/bin/sh\necho "MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX"\nprintf \'%s\\n\' "$@"\n',
    );
    await chmod(join(dir, 'node'), 0o755);
    // The image's working directory is /app; here it is the checkout.
    const text = await readFile(join(ROOT, 'deploy', 'entrypoint.sh'), 'utf8');
    assert.match(text, /^cd \/app$/m);
    script = join(dir, 'entrypoint.sh');
    await writeFile(script, text.replace(/^cd \/app$/m, `cd '${ROOT}'`));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const service of Object.keys(SERVICE_EXTRA_FLAGS)) {
    it(`when the image starts ${service}, then node gets the flags and environment npm start gives it`, async () => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        SERVICE: service,
        PATH: `${dir}${delimiter}${process.env.PATH}`,
      };
      delete env.MALLOC_ARENA_MAX;
      const result = await run('sh', [script], { env });
      assert.equal(result.code, 0, result.stderr);
      const [environment, ...args] = result.stdout.trim().split('\n');
      const launch = serviceLaunch(ROOT, service);
      assert.deepEqual(args, [...launch.nodeArgs, `services/${service}/dist/src/main.js`]);
      assert.ok(SERVICE_NODE_FLAGS.every((flag) => args.includes(flag)));
      assert.equal(environment, `MALLOC_ARENA_MAX=${launch.launchEnv.MALLOC_ARENA_MAX}`);
    });
  }
});
