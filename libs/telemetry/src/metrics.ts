import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/** Counter options without `registers`: the registry is chosen by the helper. */
export type CounterOptions<L extends string> = Omit<CounterConfiguration<L>, 'registers'>;
/** Gauge options without `registers`. */
export type GaugeOptions<L extends string> = Omit<GaugeConfiguration<L>, 'registers'>;
/** Histogram options without `registers`. */
export type HistogramOptions<L extends string> = Omit<HistogramConfiguration<L>, 'registers'>;

/** A service's own Prometheus registry and helpers that create metrics on it. */
export interface Metrics {
  /** Serve this from `/metrics`; it never touches prom-client's global registry. */
  registry: Registry;
  counter<L extends string = string>(options: CounterOptions<L>): Counter<L>;
  gauge<L extends string = string>(options: GaugeOptions<L>): Gauge<L>;
  histogram<L extends string = string>(options: HistogramOptions<L>): Histogram<L>;
}

/**
 * How often the event loop's delay is sampled. prom-client's default, 10 ms, wakes every idle
 * process 100 times a second (a libuv timer): on a small VM that was most of an idle service's
 * system calls and context switches. A stall of 50 ms or more is still always seen, which is
 * what the dashboard's p99 panel is for.
 */
const EVENT_LOOP_SAMPLE_MS = 50;

/**
 * Creates a registry labelled `service` that collects the default Node metrics under the `psc_`
 * prefix. Each call makes an independent registry (tests may create many).
 */
export function createMetrics(options: { service: string }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({
    register: registry,
    prefix: 'psc_',
    eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
  });
  return {
    registry,
    counter: (o) => registerCounter(registry, o),
    gauge: (o) => registerGauge(registry, o),
    histogram: (o) => registerHistogram(registry, o),
  };
}

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
