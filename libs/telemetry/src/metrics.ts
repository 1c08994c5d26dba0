import {
  Registry,
  collectDefaultMetrics,
  type Counter,
  type Gauge,
  type Histogram,
} from 'prom-client';
import {
  registerCounter,
  registerGauge,
  registerHistogram,
  type CounterOptions,
  type GaugeOptions,
  type HistogramOptions,
} from './register-metric.ts';
import { registerSpanExportMetrics } from './span-export-metrics.ts';

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
 * prefix, and the process's span export counters (`psc_trace_spans_*`, 0 while tracing is off).
 * Each call makes an independent registry (tests may create many).
 */
export function createMetrics(options: { service: string }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({
    register: registry,
    prefix: 'psc_',
    eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
  });
  registerSpanExportMetrics(registry);
  return {
    registry,
    counter: (o) => registerCounter(registry, o),
    gauge: (o) => registerGauge(registry, o),
    histogram: (o) => registerHistogram(registry, o),
  };
}
