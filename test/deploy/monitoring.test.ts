import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMetrics } from '@psc/telemetry';
import { parse as parseYaml } from 'yaml';
import { PSC_METRICS, registerCatalogMetric } from '../../libs/telemetry/src/metric-catalog.ts';
import {
  dashboardQueries,
  knownFromCatalog,
  knownFromExposition,
  metricNamesIn,
  ruleQueries,
  unknownMetrics,
  type Query,
} from './support/metric-names.ts';
import { ROOT } from './support/tools.ts';

const DASHBOARDS = join(ROOT, 'deploy/grafana/dashboards');
const RULES = join(ROOT, 'deploy/prometheus/rules');

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: { name: string; type: string }[] };
}

const dashboards = readdirSync(DASHBOARDS)
  .filter((file) => file.endsWith('.json'))
  .map((file) => ({
    file,
    json: JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Dashboard,
  }));
const ruleFiles = readdirSync(RULES)
  .filter((file) => file.endsWith('.yml'))
  .map((file) => ({ file, text: readFileSync(join(RULES, file), 'utf8') }));

const panelQueries = (): Query[] =>
  dashboards.flatMap(({ json }) =>
    dashboardQueries(json as Parameters<typeof dashboardQueries>[0]),
  );
const alertQueries = (): Query[] => ruleFiles.flatMap(({ file, text }) => ruleQueries(text, file));

describe('dashboard and alert queries', () => {
  it('when the dashboard and the rules are read, then every query parses and names only metrics psc exports', () => {
    const known = knownFromCatalog();
    assert.ok(dashboards.length > 0 && ruleFiles.length > 0);
    assert.deepEqual(unknownMetrics(panelQueries(), known), [], 'dashboard');
    assert.deepEqual(unknownMetrics(alertQueries(), known), [], 'alert rules');
  });

  it('when the catalog is compared with the queries, then every psc metric is on the dashboard or in an alert', () => {
    const used = new Set(
      [...panelQueries(), ...alertQueries()].flatMap(({ expr }) => [...metricNamesIn(expr)]),
    );
    const unused = Object.values(PSC_METRICS)
      .map((spec) => spec.name)
      .filter((name) => ![name, `${name}_bucket`, `${name}_count`].some((n) => used.has(n)));
    assert.deepEqual(unused, []);
  });

  it('when a panel reads a metric psc does not export, or a query does not parse, then the check names it', () => {
    const queries = [
      { where: 'panel "typo"', expr: 'sum(rate(psc_job_total[5m]))' },
      { where: 'panel "fine"', expr: 'max by (queue) (psc_queue_messages{queue=~"$queue"})' },
    ];
    assert.deepEqual(unknownMetrics(queries, knownFromCatalog()), [
      { where: 'panel "typo"', unknown: ['psc_job_total'] },
    ]);
    assert.throws(() => metricNamesIn('sum(rate(psc_jobs_total[5m])'), /syntax error/);
    assert.throws(() => metricNamesIn('{__name__=~"psc_.*"}'), /without a metric name/);
  });

  it('when the known names come from a scrape, then only metrics present in that exposition pass', async () => {
    // A service that has wired only some of the catalog: the live check would report the rest.
    const metrics = createMetrics({ service: 'scheduler' });
    registerCatalogMetric(metrics.registry, PSC_METRICS.jobsTotal);
    registerCatalogMetric(metrics.registry, PSC_METRICS.scheduleLag).observe(0.2);
    const known = knownFromExposition(await metrics.registry.metrics());

    assert.ok(known.has('psc_jobs_total'), 'declared by # TYPE before any sample');
    assert.ok(known.has('psc_schedule_lag_seconds_bucket'));
    assert.ok(known.has('psc_process_resident_memory_bytes'));
    const missing = new Set(unknownMetrics(panelQueries(), known).flatMap((q) => q.unknown));
    assert.ok(missing.has('psc_queue_messages'));
    assert.ok(!missing.has('psc_jobs_total') && !missing.has('psc_schedule_lag_seconds_bucket'));
  });

  it('when Grafana loads the dashboard, then its panels have unique ids, fit the grid and use the datasource variable', () => {
    for (const { file, json } of dashboards) {
      const panels = json.panels;
      assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, `${file}: panel ids`);
      assert.ok(json.uid && json.title, `${file}: uid and title`);
      for (const panel of panels) {
        assert.ok(panel.title, `${file}: panel ${panel.id} has a title`);
        const { x, w } = panel.gridPos;
        assert.ok(x >= 0 && w > 0 && x + w <= 24, `${file}: "${panel.title}" fits 24 columns`);
        if (panel.type === 'row') continue;
        assert.equal(
          panel.datasource?.uid,
          '${datasource}',
          `${file}: "${panel.title}" datasource`,
        );
        assert.ok((panel.targets ?? []).length > 0, `${file}: "${panel.title}" has queries`);
      }
      const variables = json.templating?.list ?? [];
      assert.ok(variables.some((v) => v.name === 'datasource' && v.type === 'datasource'));
    }
  });

  it('when Prometheus loads the rules, then every alert has a severity, a summary and a runbook section in docs/METRICS.md', () => {
    const metricsDoc = readFileSync(join(ROOT, 'docs/METRICS.md'), 'utf8');
    const anchors = new Set(
      [...metricsDoc.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const { file, text } of ruleFiles) {
      const doc = parseYaml(text) as {
        groups: {
          rules: {
            alert?: string;
            labels?: Record<string, string>;
            annotations?: Record<string, string>;
          }[];
        }[];
      };
      for (const rule of doc.groups.flatMap((g) => g.rules).filter((r) => r.alert)) {
        assert.match(rule.labels?.severity ?? '', /^(critical|warning)$/, `${file}: ${rule.alert}`);
        assert.ok(rule.annotations?.summary, `${file}: ${rule.alert} summary`);
        const runbook = rule.annotations?.runbook ?? '';
        assert.match(runbook, /^docs\/METRICS\.md#/, `${file}: ${rule.alert} runbook`);
        assert.ok(
          anchors.has(runbook.split('#')[1]!),
          `${file}: ${rule.alert} runbook anchor ${runbook}`,
        );
      }
    }
  });

  it('when the rules are unit-tested, then every alert has a promtool test case that expects it to fire', () => {
    const alerts = ruleFiles.flatMap(({ text }) =>
      (parseYaml(text) as { groups: { rules: { alert?: string }[] }[] }).groups
        .flatMap((g) => g.rules)
        .flatMap((r) => (r.alert ? [r.alert] : [])),
    );
    const testDir = join(ROOT, 'deploy/prometheus/tests');
    const firing = new Set(
      readdirSync(testDir).flatMap((file) =>
        (
          parseYaml(readFileSync(join(testDir, file), 'utf8')) as {
            tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
          }
        ).tests.flatMap((t) =>
          (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
        ),
      ),
    );
    assert.deepEqual(
      alerts.filter((alert) => !firing.has(alert)),
      [],
    );
  });
});
