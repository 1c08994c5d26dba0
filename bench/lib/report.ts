import { fmt, median } from './stats.ts';

/**
 * A target from an issue (7, 13, 17), checked against the median. `min`/`max` bound the psc
 * figure itself; `minRatio` bounds psc/baseline from below (throughput, where higher is better),
 * `maxRatio` from above (latency, where lower is better).
 */
export interface Target {
  text: string;
  min?: number;
  max?: number;
  minRatio?: number;
  maxRatio?: number;
}

export interface Comparison {
  scenario: string;
  metric: string;
  unit: string;
  /** What psc is compared with: `baseline`, or a peer such as `pg-boss`. */
  against: string;
  /** One figure per repetition. */
  psc: number[];
  /** The other side's figures (the baseline's or the peer's). */
  baseline: number[];
  pscMedian: number;
  baselineMedian: number;
  /** psc median / baseline median. */
  ratio: number;
  target?: { text: string; met: boolean };
}

interface Skip {
  scenario: string;
  reason: string;
}

export interface Report {
  comparisons: Comparison[];
  skips: Skip[];
  notes: string[];
}

export function createReport(): Report {
  return { comparisons: [], skips: [], notes: [] };
}

/**
 * Records and prints one `<scenario> <metric>: psc …, baseline …, ratio …` line; `against` names
 * the other side when it is not the baseline. `unit` may be empty (e.g. transactions per job).
 */
export function compare(
  report: Report,
  scenario: string,
  metric: string,
  unit: string,
  psc: number[],
  baseline: number[],
  target?: Target,
  against = 'baseline',
): Comparison {
  const pscMedian = median(psc);
  const baselineMedian = median(baseline);
  const ratio = pscMedian / baselineMedian;
  const comparison: Comparison = {
    scenario,
    metric,
    unit,
    against,
    psc,
    baseline,
    pscMedian,
    baselineMedian,
    ratio,
  };
  if (target) {
    const met =
      (target.min === undefined || pscMedian >= target.min) &&
      (target.max === undefined || pscMedian <= target.max) &&
      (target.minRatio === undefined || ratio >= target.minRatio) &&
      (target.maxRatio === undefined || ratio <= target.maxRatio);
    comparison.target = { text: target.text, met };
  }
  report.comparisons.push(comparison);
  const label = metric ? `${scenario} ${metric}` : scenario;
  const targetText = comparison.target
    ? `  [target ${comparison.target.text}: ${comparison.target.met ? 'met' : 'MISSED'}]`
    : '';
  const u = unit ? ` ${unit}` : '';
  console.log(
    `${label}: psc ${fmt(pscMedian)}${u}, ${against} ${fmt(baselineMedian)}${u}, ratio ${fmt(ratio)}${targetText}`,
  );
  return comparison;
}

export function skip(report: Report, scenario: string, reason: string): void {
  report.skips.push({ scenario, reason });
  console.log(`${scenario}: skipped — ${reason}`);
}

export function note(report: Report, text: string): void {
  report.notes.push(text);
  console.log(`  · ${text}`);
}
