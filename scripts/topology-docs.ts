/**
 * `npm run docs`: writes docs/ARCHITECTURE.md's tables of exchanges, queues and messages from
 * the topology table in @psc/contracts, between `<!-- topology:NAME -->` and
 * `<!-- /topology:NAME -->` markers. `test/docs/architecture.test.ts` fails when the document
 * and the table disagree, so the two cannot drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  EXCHANGE_SPECS,
  MESSAGE_ROUTES,
  QUEUES,
  QUEUE_SPECS,
  type QueueSpec,
} from '@psc/contracts';

export const ARCHITECTURE = fileURLToPath(new URL('../docs/ARCHITECTURE.md', import.meta.url));

const code = (s: string): string => `\`${s}\``;
const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
const table = (head: string[], rows: string[][]): string =>
  [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');

function exchanges(): string {
  return table(
    ['Exchange', 'Type', 'Routing key', 'Carries'],
    EXCHANGE_SPECS.map((e) => [
      code(e.name),
      e.type + (e.alternateExchange ? `, alternate exchange ${code(e.alternateExchange)}` : ''),
      e.routingKey,
      e.purpose,
    ]),
  );
}

function argumentsOf(q: QueueSpec): string {
  const args = [q.durable ? 'durable' : 'non-durable'];
  if (q.autoDelete) args.push('auto-delete');
  if (q.perReplica) args.push(`one per replica (${code(`${q.name}.<id>`)})`);
  if (q.priority) args.push('`x-max-priority` 10');
  if (q.maxLength !== undefined) args.push(`\`x-max-length\` ${q.maxLength.toLocaleString('en')}`);
  if (q.failures !== 'none')
    args.push(`DLX ${code('psc.dead-letter')} → ${code(QUEUES.deadLetter(q.name))}`);
  return args.join(', ');
}

const FAILURES: Record<QueueSpec['failures'], string> = {
  retries: 'retried through delay queues, then given up',
  park: 'poison parked at once, nothing retried',
  none: '—',
};

/** ` (prefetch)`, or ` (at once; prefetch)` for a consumer that runs fewer than it holds. */
function consumerLimits(q: QueueSpec): string {
  const setting = (s: { default: number; env?: string }) =>
    `${s.env ? `${code(s.env)}, ` : ''}${s.default}`;
  if (!q.prefetch) return '';
  return q.concurrency
    ? ` (${setting(q.concurrency)}; ${setting(q.prefetch)})`
    : ` (${setting(q.prefetch)})`;
}

function queues(): string {
  return table(
    [
      'Queue',
      'Bound to (exchange: key)',
      'Arguments',
      'Consumer (at once; prefetch)',
      'Failures',
      'Holds',
    ],
    Object.values(QUEUE_SPECS as Record<string, QueueSpec>).map((q) => [
      code(q.name),
      q.bindings.map((b) => `${code(b.exchange)}: ${code(b.routingKey || '""')}`).join('<br>'),
      argumentsOf(q),
      q.consumer ? `${q.consumer}${consumerLimits(q)}` : 'none',
      FAILURES[q.failures],
      q.purpose,
    ]),
  );
}

function messages(): string {
  const consumersOf = (type: string): string =>
    [
      ...new Set(
        Object.values(QUEUE_SPECS as Record<string, QueueSpec>)
          .filter((q) => q.accepts.some((m) => m.type === type))
          .map((q) => `${q.consumer} (${code(q.name)})`),
      ),
    ].join('<br>') || 'none (kept in `psc.unrouted-events`)';
  return table(
    ['Message', 'v', 'Kind', 'Producers', 'Exchange / key', 'Consumers'],
    MESSAGE_ROUTES.map((r) => [
      code(r.message.type),
      String(r.message.version),
      r.kind,
      r.producers.join(', ') || 'none yet',
      `${code(r.exchange)} / ${r.routingKey === r.message.type ? 'type' : r.routingKey}`,
      consumersOf(r.message.type),
    ]),
  );
}

export const GENERATED: Record<string, () => string> = { exchanges, queues, messages };

/** The document with every generated section rewritten from the topology table. */
export function render(document: string): string {
  let out = document;
  for (const [name, make] of Object.entries(GENERATED)) {
    const open = `<!-- topology:${name} -->`;
    const close = `<!-- /topology:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start === -1 || end === -1)
      throw new Error(`docs/ARCHITECTURE.md lacks ${open} … ${close}`);
    out = `${out.slice(0, start + open.length)}\n\n${make()}\n\n${out.slice(end)}`;
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const before = readFileSync(ARCHITECTURE, 'utf8');
  const after = render(before);
  if (after !== before) writeFileSync(ARCHITECTURE, after);
  console.log(
    after === before
      ? 'docs/ARCHITECTURE.md is up to date'
      : 'docs/ARCHITECTURE.md tables rewritten',
  );
}
