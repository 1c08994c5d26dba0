import { readdirSync, readFileSync } from 'node:fs';
import { fmt, median } from './stats.ts';

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture it runs on. */
const MS_PER_TICK = 10;

/**
 * A group of processes: its roots (by pid or by command line) and everything they started,
 * unless `alone` (the bench's own process, whose children are the services it measures).
 */
export interface CpuGroup {
  /** Unknown pids (a process that did not start) match nothing. */
  pids?: readonly (number | undefined)[];
  command?: RegExp;
  alone?: boolean;
}

interface Proc {
  pid: number;
  ppid: number;
  ms: number;
  /** CPU of its children that ended (and that it waited for): a pool's closed connections. */
  endedChildrenMs: number;
  command: string;
}

function processes(): Proc[] {
  const found: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name in parentheses may hold spaces: fields start after its last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        ms: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK,
        endedChildrenMs: (Number(fields[13]) + Number(fields[14])) * MS_PER_TICK,
        command: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '),
      });
    } catch {
      // Ended between the listing and the read.
    }
  }
  return found;
}

/**
 * CPU time (user + system, ms) each group has used so far: its root processes and all their
 * descendants (PostgreSQL's backends under the postmaster, a service's children), those that
 * ended included (their parent's children time: a backend whose connection a pool closed must
 * not take its CPU out of the sum). Not for an `alone` group, whose ended children are not its
 * own (the bench's are services it stopped).
 */
export function cpuByGroup(groups: Record<string, CpuGroup>): Record<string, number> {
  const all = processes();
  const children = new Map<number, Proc[]>();
  for (const p of all) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  const totals: Record<string, number> = {};
  for (const [name, group] of Object.entries(groups)) {
    const roots = all.filter(
      (p) => group.pids?.includes(p.pid) || (group.command?.test(p.command) ?? false),
    );
    const seen = new Set<number>();
    let ms = 0;
    const stack = [...roots];
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (seen.has(p.pid)) continue;
      seen.add(p.pid);
      ms += p.ms;
      if (!group.alone) {
        ms += p.endedChildrenMs;
        stack.push(...(children.get(p.pid) ?? []));
      }
    }
    if (roots.length > 0) totals[name] = ms;
  }
  return totals;
}

/** Milliseconds of CPU per job of each group between two readings, and their sum as `total`. */
export function cpuPerJob(
  before: Record<string, number>,
  after: Record<string, number>,
  jobs: number,
): Record<string, number> {
  const perJob: Record<string, number> = {};
  let total = 0;
  for (const [name, ms] of Object.entries(after)) {
    const used = (ms - (before[name] ?? ms)) / jobs;
    perJob[name] = used;
    total += used;
  }
  return { ...perJob, total };
}

/**
 * Each process's median CPU per job over repetitions of `cpuPerJob`, largest first, as
 * `name ms, …`. Processes under 0.05 ms (those that idled through this side's burst, such as the
 * other sides' workers) are left out.
 */
export function cpuBreakdown(reps: readonly Record<string, number>[]): string {
  return Object.keys(reps[0] ?? {})
    .filter((name) => name !== 'total')
    .map((name) => ({ name, ms: median(reps.map((rep) => rep[name] ?? 0)) }))
    .filter((group) => group.ms >= 0.05)
    .sort((a, b) => b.ms - a.ms)
    .map((group) => `${group.name} ${fmt(group.ms)}`)
    .join(', ');
}
