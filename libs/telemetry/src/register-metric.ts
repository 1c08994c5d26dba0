import {
  Counter,
  Gauge,
  Histogram,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Registry,
} from 'prom-client';

/** Counter options without `registers`: the registry is chosen by the helper. */
export type CounterOptions<L extends string> = Omit<CounterConfiguration<L>, 'registers'>;
/** Gauge options without `registers`. */
export type GaugeOptions<L extends string> = Omit<GaugeConfiguration<L>, 'registers'>;
/** Histogram options without `registers`. */
export type HistogramOptions<L extends string> = Omit<HistogramConfiguration<L>, 'registers'>;

/**
 * Returns the counter `options.name` of `registry`, creating it on first use, so two components
 * (or two servers in one test process) can ask for the same metric without a duplicate error.
 */
export function registerCounter<L extends string>(
  registry: Registry,
  options: CounterOptions<L>,
): Counter<L> {
  const existing = registry.getSingleMetric(options.name);
  if (existing instanceof Counter) return existing;
  return new Counter<L>({ ...options, registers: [registry] });
}

/** Get-or-create for gauges; see {@link registerCounter}. */
export function registerGauge<L extends string>(
  registry: Registry,
  options: GaugeOptions<L>,
): Gauge<L> {
  const existing = registry.getSingleMetric(options.name);
  if (existing instanceof Gauge) return existing;
  return new Gauge<L>({ ...options, registers: [registry] });
}

/** Get-or-create for histograms; see {@link registerCounter}. */
export function registerHistogram<L extends string>(
  registry: Registry,
  options: HistogramOptions<L>,
): Histogram<L> {
  const existing = registry.getSingleMetric(options.name);
  if (existing instanceof Histogram) return existing;
  return new Histogram<L>({ ...options, registers: [registry] });
}
