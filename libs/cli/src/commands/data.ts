import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Option, type Command } from 'commander';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { platformId } from '../refs.ts';

/**
 * Copies an export to `out`, counting its lines: an answer that breaks off mid-stream (the
 * gateway restarted, a proxy cut it) must not pass for a whole export with exit 0.
 */
async function streamExport(
  body: ReadableStream<Uint8Array>,
  out: NodeJS.WriteStream,
  format: 'jsonl' | 'csv',
): Promise<void> {
  let lines = 0;
  let partial = false;
  try {
    // Not pipeline(): it would destroy stdout with the answer's error.
    for await (const chunk of Readable.fromWeb(body) as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (chunk.length > 0) partial = chunk[chunk.length - 1] !== 10;
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } catch (err) {
    // undici says only "terminated"; its cause says why ("other side closed").
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    const why = cause instanceof Error ? cause.message : String(cause);
    const unit = format === 'csv' ? 'lines' : 'records';
    throw new CliError(
      `the export was cut off after ${lines} ${unit}${partial ? ' and part of the next' : ''} (${why}): the output is incomplete`,
      {
        exitCode: EXIT.unreachable,
        hint: 'Export again when the gateway answers: `psc status` and `psc logs -l error` tell why it stopped.',
      },
    );
  }
}

export function dataCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const data = program
    .command('data')
    .description('synced records: export to a file, import from one');

  data
    .command('export')
    .description('stream every record of a resource to stdout (`> file`): JSON lines or CSV')
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'resource, or <resource>.<child> for a child collection')
    .addOption(new Option('--format <format>').choices(['jsonl', 'csv']).default('jsonl'))
    .action(
      action(env, async (ctx, ref: string, resource: string, opts: { format: 'jsonl' | 'csv' }) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        const body = await call(
          api,
          api.untimed.GET('/api/v1/data/{platformId}/{resource}/export', {
            params: { path: { platformId: id, resource }, query: { format: opts.format } },
            parseAs: 'stream',
          }),
        );
        // The records are the output, with or without --json: nothing else is written to stdout.
        if (body) await streamExport(body, ctx.out.stdout, opts.format);
      }),
    );

  data
    .command('import')
    .description('map and upsert upstream-shaped items into a resource, as a sync would')
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'resource to import into')
    .argument(
      '<file>',
      'JSON lines (.jsonl/.ndjson) or a JSON array (.json); - reads JSON lines from stdin',
    )
    .action(
      action(env, async (ctx, ref: string, resource: string, file: string) => {
        const isArray = file.endsWith('.json');
        if (file !== '-') {
          try {
            await stat(file);
          } catch (err) {
            throw usageError(`cannot read ${file}: ${(err as Error).message}`);
          }
        }
        const api = ctx.api();
        const id = await platformId(api, ref);
        // Streamed: a file of any size goes up without being held in memory.
        const source = file === '-' ? process.stdin : createReadStream(file);
        const request = {
          params: { query: { platformId: id, resource } },
          body: [],
          bodySerializer: () => Readable.toWeb(source),
          headers: { 'content-type': isArray ? 'application/json' : 'application/x-ndjson' },
        };
        // fetch sends a stream body only with duplex 'half'; openapi-fetch passes it through.
        const summary = await call(
          api,
          api.untimed.POST('/api/v1/imports', Object.assign(request, { duplex: 'half' as const })),
        );
        ctx.out.result(summary, () => {
          ctx.out.fields({
            imported: summary.imported,
            inserted: summary.inserted,
            updated: summary.updated,
            unchanged: summary.unchanged,
            failed: summary.failed,
          });
          for (const e of summary.errors) ctx.out.line(`line ${e.line}: ${e.message}`);
        });
        if (summary.failed > 0) {
          throw new CliError(`${summary.failed} item(s) were not imported`, {
            exitCode: EXIT.failed,
            hint: 'Fix the lines listed above and import the file again (stored items are upserted).',
          });
        }
      }),
    );
}
