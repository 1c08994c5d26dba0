import { readFile } from 'node:fs/promises';

/** Resident set size of a process in MB, from /proc/<pid>/status (Linux). */
export async function rssMb(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Samples a process's RSS every `everyMs` until `stop()`, which returns the peak and the last. */
export function sampleRss(pid: number | undefined, everyMs = 250) {
  let peak = 0;
  let last = Number.NaN;
  const take = async (): Promise<void> => {
    try {
      last = await rssMb(pid);
      peak = Math.max(peak, last);
    } catch {
      // The process may be gone; the caller sees NaN.
    }
  };
  void take();
  const timer = setInterval(() => void take(), everyMs);
  return {
    async stop(): Promise<{ peak: number; last: number }> {
      clearInterval(timer);
      await take();
      return { peak, last };
    },
  };
}
