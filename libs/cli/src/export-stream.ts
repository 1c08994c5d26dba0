import { once } from 'node:events';
import { Readable } from 'node:stream';
import { CliError, EXIT } from './errors.ts';

/**
 * Copies an export to `out`, counting its lines: an answer that breaks off mid-stream (the
 * gateway restarted, a proxy cut it) must not pass for a whole export with exit 0. `unit` names
 * what a line holds, for the message ("records", "lines" of a CSV, "documents").
 */
export async function streamExport(
  body: ReadableStream<Uint8Array>,
  out: NodeJS.WriteStream,
  unit: string,
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
    throw new CliError(
      `the export was cut off after ${lines} ${unit}${partial ? ' and part of the next' : ''} (${why}): the output is incomplete`,
      {
        exitCode: EXIT.unreachable,
        hint: 'Export again when the gateway answers: `psc status` and `psc logs -l error` tell why it stopped.',
      },
    );
  }
}
