import type { Registry } from 'prom-client';
import { registerCatalogMetric, type MetricSpec } from './metric-catalog.ts';

/** One sample a scrape-time gauge reports: its labels and value. */
export interface GaugeSample {
  labels?: Record<string, string>;
  value: number;
}

/**
 * A catalog gauge whose value is read when Prometheus scrapes (a table count, a queue depth)
 * instead of kept up to date by the code that moves it. `read` replaces all samples each scrape,
 * so a label set that disappeared (a deleted platform) stops being exported. A read that fails
 * keeps the last samples and is logged once per failure streak by `onError`: a scrape never fails
 * because one source is down.
 */
export function registerScrapeGauge(
  registry: Registry,
  spec: MetricSpec & { type: 'gauge' },
  read: () => Promise<GaugeSample[]>,
  onError?: (err: unknown) => void,
): void {
  const gauge = registerCatalogMetric(registry, spec);
  let failing = false;
  (gauge as unknown as { collect: () => Promise<void> }).collect = async () => {
    try {
      const samples = await read();
      gauge.reset();
      for (const s of samples) {
        if (s.labels) gauge.set(s.labels, s.value);
        else gauge.set(s.value);
      }
      failing = false;
    } catch (err) {
      if (!failing) onError?.(err);
      failing = true;
    }
  };
}
