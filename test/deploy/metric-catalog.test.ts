import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, createMetrics } from '@psc/telemetry';
import { JOB_STATUSES, SERVICES, TASK_TYPES } from '../../libs/contracts/src/index.ts';
import { requestLog } from '../../libs/http/src/request-log.ts';
import {
  METRIC_SERVICES,
  PSC_METRICS,
  defaultMetricFamilies,
  registerCatalogMetric,
  type LabelBound,
  type MetricSpec,
} from '../../libs/telemetry/src/metric-catalog.ts';
import { ROOT, promtool, run } from './support/tools.ts';

const specs: MetricSpec[] = Object.values(PSC_METRICS);

/** The rows of the metrics table in docs/METRICS.md: name, type, labels, exporters. */
function documentedMetrics() {
  const text = readFileSync(join(ROOT, 'docs/METRICS.md'), 'utf8');
  const section = text.slice(text.indexOf('## Metrics'), text.indexOf('## Labels'));
  const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [name, type, labels, exporters] = line
        .split('|')
        .slice(1, 5)
        .map((c) => c.trim());
      return {
        name: backticked(name!)[0],
        type,
        labels: backticked(labels!),
        exportedBy: exporters!.split(',').map((s) => s.trim()),
      };
    });
}

const valuesOf = (bound: LabelBound | undefined) =>
  bound && 'values' in bound ? [...bound.values] : undefined;

describe('the metric catalog', () => {
  it('when docs/METRICS.md lists the metrics, then it lists exactly the catalog with the same type, labels and exporters', () => {
    const documented = documentedMetrics();
    assert.deepEqual(
      documented.map((m) => m.name).sort(),
      specs.map((s) => s.name).sort(),
      'metric names in docs/METRICS.md',
    );
    for (const spec of specs) {
      const row = documented.find((m) => m.name === spec.name)!;
      assert.deepEqual(
        { type: row.type, labels: row.labels, exportedBy: row.exportedBy },
        { type: spec.type, labels: Object.keys(spec.labels), exportedBy: [...spec.exportedBy] },
        spec.name,
      );
    }
  });

  it('when a label could grow with traffic (ids, keys, URLs, traces, processes), then it is not in the catalog', () => {
    const unbounded =
      /(^|_)(id|ids|key|keys|url|path|trace|span|job|record|worker|pod|host|instance)$/;
    for (const spec of specs) {
      for (const label of Object.keys(spec.labels)) {
        assert.doesNotMatch(label, unbounded, `${spec.name}{${label}}`);
      }
      assert.equal('service' in spec.labels, false, `${spec.name}: service is set for all`);
    }
  });

  it('when labels name task types, job statuses or services, then their values are those of libs/contracts', () => {
    assert.deepEqual([...METRIC_SERVICES], [...SERVICES]);
    for (const spec of specs) {
      const taskTypes = valuesOf(spec.labels['task_type']);
      if (taskTypes) assert.deepEqual(taskTypes, [...TASK_TYPES], spec.name);
      for (const exporter of spec.exportedBy) assert.ok(SERVICES.includes(exporter), exporter);
    }
    const statuses = valuesOf(PSC_METRICS.jobsTotal.labels.status)!;
    for (const status of JOB_STATUSES) assert.ok(statuses.includes(status), status);
  });

  it('when every catalog metric is created and observed on a service registry, then promtool check metrics finds nothing to lint in them', async (t) => {
    const metrics = createMetrics({ service: 'sync-worker' });
    for (const spec of specs) {
      const labels = Object.fromEntries(
        Object.entries(spec.labels).map(([name, bound]) => [name, valuesOf(bound)?.[0] ?? 'x']),
      );
      const metric = registerCatalogMetric(metrics.registry, spec) as unknown as {
        inc(labels: object): void;
        observe(labels: object, value: number): void;
      };
      if (spec.type === 'histogram') metric.observe(labels, 0.3);
      else metric.inc(labels);
    }
    const exposition = await metrics.registry.metrics();
    for (const spec of specs)
      assert.match(exposition, new RegExp(`^# TYPE ${spec.name} ${spec.type}$`, 'm'));

    const checked = await run(promtool(), ['check', 'metrics'], { input: exposition });
    const findings = (checked.stdout + checked.stderr).split('\n').filter(Boolean);
    const defaults = new Set(defaultMetricFamilies().map((family) => family.name));
    const isDefault = (line: string) => defaults.has(line.split(' ')[0]!);
    assert.deepEqual(
      findings.filter((line) => !isDefault(line)),
      [],
      'findings on catalog metrics',
    );
    // prom-client's own defaults are not ours to rename; show what promtool says about them.
    for (const line of findings.filter(isDefault)) t.diagnostic(`prom-client default: ${line}`);
  });

  it('when libs/http registers http_request_duration_seconds, then its labels and buckets are the catalog entry', async () => {
    const metrics = createMetrics({ service: 'gateway' });
    requestLog({
      registry: metrics.registry,
      logger: createLogger({ service: 'gateway', level: 'silent' }),
    });
    const registered = metrics.registry.getSingleMetric('http_request_duration_seconds');
    assert.ok(registered, 'requestLog registered the histogram');
    const spec = PSC_METRICS.httpRequestDuration;
    const text = await metrics.registry.getSingleMetricAsString(spec.name);
    assert.match(text, new RegExp(`^# TYPE ${spec.name} ${spec.type}$`, 'm'));
    const internals = registered as unknown as { labelNames: string[]; upperBounds: number[] };
    assert.deepEqual(internals.labelNames, Object.keys(spec.labels));
    assert.deepEqual(internals.upperBounds, [...spec.buckets]);
  });
});
