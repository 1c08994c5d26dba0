import Table from 'cli-table3';
import pc from 'picocolors';

type Cell = string | number | boolean | null | undefined;

/** Renders a value for a table cell or a field: dates stay ISO, nothing is shown as "-". */
function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '-';
}

/**
 * Everything a command prints goes through here: with `--json` one JSON document on stdout and
 * nothing else, otherwise tables and fields for people.
 */
export class Output {
  readonly json: boolean;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;

  constructor(json: boolean, stdout = process.stdout, stderr = process.stderr) {
    this.json = json;
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /** `data` as JSON, or the human rendering. */
  result(data: unknown, human: () => void): void {
    if (this.json) this.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else human();
  }

  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  table(head: string[], rows: Cell[][]): void {
    if (rows.length === 0) {
      this.line(pc.dim('(none)'));
      return;
    }
    // No colours in the table itself: piped output stays plain text.
    const table = new Table({ head, style: { head: [], border: [] } });
    for (const row of rows) table.push(row.map(cell));
    this.line(table.toString());
  }

  /** One `name: value` line per field. */
  fields(values: Record<string, unknown>): void {
    const width = Math.max(...Object.keys(values).map((k) => k.length));
    for (const [key, value] of Object.entries(values)) {
      this.line(`${pc.bold(`${key}:`.padEnd(width + 1))} ${cell(value)}`);
    }
  }

  success(text: string): void {
    if (!this.json) this.line(pc.green(text));
  }
}
