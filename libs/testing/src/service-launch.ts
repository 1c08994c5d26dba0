import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Node flags every psc service runs with (deploy/entrypoint.sh repeats them for the image):
 * - `psc-dist` makes `@psc/*` libraries resolve to their built dist/ (scripts/build.ts), so no
 *   process pays for Node's TypeScript stripper;
 * - a 2 MB semi-space keeps the young generation, which V8 otherwise grows to 16 MB per half
 *   under load, from costing ~30 MB of RSS per process; the services' live objects are short-lived
 *   and small, so the extra scavenges are cheap (bench/README.md, "Memory");
 * - the telemetry bootstrap must load before anything it instruments.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [
  '--conditions=psc-dist',
  '--max-semi-space-size=2',
  '--import',
  '@psc/telemetry/register',
];

/**
 * Per service, after SERVICE_NODE_FLAGS. The gateway's old generation is capped: under 50
 * concurrent requests V8 otherwise grew it to ~90 MB and kept it (RSS 190 MB, at the export
 * budget of 200 MB before exporting anything); with the cap it sits at ~130 MB at the same
 * throughput. Imports are streamed, one item (PSC_IMPORT_MAX_ITEM_BYTES) at a time, so no
 * request needs more. Workers hold whole platform pages and get no cap.
 */
export const SERVICE_EXTRA_FLAGS: Readonly<Record<string, readonly string[]>> = {
  gateway: ['--max-old-space-size=128'],
};

export interface ServiceLaunch {
  /** The built entry file, `services/<name>/dist/src/main.js`. */
  entry: string;
  nodeArgs: string[];
  /** The service's package directory: `--import @psc/telemetry/register` resolves from it. */
  cwd: string;
}

/** How to run service `name` of the repository at `root` exactly as production does. */
export function serviceLaunch(root: string, name: string): ServiceLaunch {
  const cwd = join(root, 'services', name);
  const entry = join(cwd, 'dist', 'src', 'main.js');
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` (scripts/build.ts) first`);
  }
  return { entry, nodeArgs: [...(SERVICE_EXTRA_FLAGS[name] ?? []), ...SERVICE_NODE_FLAGS], cwd };
}
