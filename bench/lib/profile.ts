import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: an npm package, a psc lib or service file, Node itself, or V8. */
function codeOwner(frame: ProfileNode['callFrame']): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const pkg = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const own = /\/((?:services|libs)\/[^/]+)\/src\/(.+)$/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url.replace(/^file:\/\//, '');
}

/** Self time per code owner and per function, as shares of the non-idle time. */
function summariseProfile(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)') return;
    busy += delta;
    const owner = codeOwner(node.callFrame);
    owners.set(owner, (owners.get(owner) ?? 0) + delta);
    const fn = `${node.callFrame.functionName || '(anonymous)'} ${owner}:${node.callFrame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + delta);
  });
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, share: us / busy }));
  return { busyMs: busy / 1000, owners: top(owners, 15), functions: top(functions, 15) };
}

/** Prints the summary of every .cpuprofile in `dir` (the sync-worker writes one when it exits). */
export async function summariseProfiles(dir: string): Promise<void> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    console.log(`profile: no .cpuprofile in ${dir} (the sync-worker did not exit cleanly?)`);
    return;
  }
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const summary = summariseProfile(profile);
    console.log(
      `\nprofile ${join(dir, file)}: ${Math.round(summary.busyMs)} ms of CPU (idle excluded)`,
    );
    console.log('  self time by code:');
    for (const { name, share } of summary.owners) {
      console.log(`    ${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
    }
    console.log('  self time by function:');
    for (const { name, share } of summary.functions) {
      console.log(`    ${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
    }
  }
}
