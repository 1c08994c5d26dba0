/**
 * Which metric names the Prometheus rules and the Grafana dashboard read, and whether psc exports
 * them. The known names come either from the catalog (`knownFromCatalog`, the static check) or
 * from scrapes of running services (`knownFromExposition`, the live check): both give a set of
 * sample names, and `unknownMetrics` takes either.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import {
  PSC_METRICS,
  defaultMetricFamilies,
  seriesNames,
} from '../../../libs/telemetry/src/metric-catalog.ts';

/** Series Prometheus makes itself for every scrape target; queries may read them too. */
const PROMETHEUS_SERIES = ['up'] as const;

/** A PromQL expression and where it was found, for the error message. */
export interface Query {
  where: string;
  expr: string;
}

/** Sample names of every catalog metric and of the Node.js defaults, plus `PROMETHEUS_SERIES`. */
export function knownFromCatalog(): Set<string> {
  const families = [...Object.values(PSC_METRICS), ...defaultMetricFamilies()];
  return new Set([...families.flatMap(seriesNames), ...PROMETHEUS_SERIES]);
}

/**
 * Sample names in Prometheus text expositions (the bodies of `GET /metrics`), plus
 * `PROMETHEUS_SERIES`. `# TYPE` lines count too, so a labelled metric that has not been observed
 * yet is still known.
 */
export function knownFromExposition(...bodies: string[]): Set<string> {
  const names = new Set<string>(PROMETHEUS_SERIES);
  for (const line of bodies.flatMap((body) => body.split('\n'))) {
    const typed = /^# TYPE (\S+) (\S+)/.exec(line);
    if (typed) {
      for (const name of seriesNames({ name: typed[1]!, type: typed[2]! })) names.add(name);
    } else if (line !== '' && !line.startsWith('#')) {
      names.add(/^[^{\s]+/.exec(line)![0]);
    }
  }
  return names;
}

/** Grafana's interval variables, replaced by a duration so the expression parses as PromQL. */
const GRAFANA_DURATIONS =
  /\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}/g;
/** Other dashboard variables, which psc's dashboard uses only inside label values. */
const GRAFANA_VARIABLES = /\$\{\w+(:\w+)?\}|\$\w+/g;

/**
 * Metric names `expr` reads. Throws when it does not parse, or selects metrics by a `__name__`
 * pattern, since then the names it reads cannot be checked.
 */
export function metricNamesIn(expr: string): Set<string> {
  const promql = expr.replace(GRAFANA_DURATIONS, '5m').replace(GRAFANA_VARIABLES, 'x');
  const names = new Set<string>();
  const problems: string[] = [];
  parser.parse(promql).iterate({
    enter(node) {
      if (node.type.isError) problems.push(`syntax error at ${node.from}`);
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      if (identifier) {
        names.add(promql.slice(identifier.from, identifier.to));
        return;
      }
      const byName = /__name__\s*=\s*"([^"]+)"/.exec(promql.slice(node.from, node.to));
      if (byName) names.add(byName[1]!);
      else problems.push(`selector without a metric name: ${promql.slice(node.from, node.to)}`);
    },
  });
  if (problems.length > 0) throw new Error(`${problems.join('; ')} in: ${expr}`);
  return names;
}

/** Each query that reads a name not in `known`, with those names. */
export function unknownMetrics(
  queries: readonly Query[],
  known: ReadonlySet<string>,
): { where: string; unknown: string[] }[] {
  return queries.flatMap(({ where, expr }) => {
    const unknown = [...metricNamesIn(expr)].filter((name) => !known.has(name));
    return unknown.length > 0 ? [{ where, unknown }] : [];
  });
}

/** Every `expr` of a Prometheus rule file (alerting and recording rules). */
export function ruleQueries(ruleFileText: string, file: string): Query[] {
  const doc = parseYaml(ruleFileText) as {
    groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  return doc.groups.flatMap((group) =>
    group.rules.map((rule) => ({
      where: `${file}: ${group.name}/${rule.alert ?? rule.record}`,
      expr: rule.expr,
    })),
  );
}

interface GrafanaPanel {
  title?: string;
  panels?: GrafanaPanel[];
  targets?: { refId?: string; expr?: string }[];
}

/**
 * Every PromQL query of a Grafana dashboard: each panel's targets (rows' nested panels included)
 * and each query variable (`label_values(metric, label)` reads `metric`).
 */
export function dashboardQueries(dashboard: {
  title: string;
  panels: GrafanaPanel[];
  templating?: { list: { name: string; type: string; query?: string | { query: string } }[] };
}): Query[] {
  const fromPanel = (panel: GrafanaPanel): Query[] => [
    ...(panel.targets ?? []).map((target) => {
      if (typeof target.expr !== 'string' || target.expr === '') {
        throw new Error(`panel "${panel.title}" target ${target.refId} has no expr`);
      }
      return { where: `panel "${panel.title}" ${target.refId}`, expr: target.expr };
    }),
    ...(panel.panels ?? []).flatMap(fromPanel),
  ];
  const variables = (dashboard.templating?.list ?? [])
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const text = typeof variable.query === 'string' ? variable.query : variable.query?.query;
      const labelValues = /^label_values\((.+),\s*\w+\)$/.exec(text ?? '');
      return { where: `variable $${variable.name}`, expr: labelValues?.[1] ?? text ?? '' };
    });
  return [...dashboard.panels.flatMap(fromPanel), ...variables];
}
