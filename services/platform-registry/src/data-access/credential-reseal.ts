import type { Knex } from 'knex';
import type { SecretBox } from './secret-box.ts';
import { secretContext } from './webhook.repository.ts';

/** A column of the registry's holding sealed values, and the context each row's is bound to. */
interface SealedColumn {
  table: 'platforms' | 'webhooks';
  column: 'auth_secret' | 'secret';
  context: (id: string) => string;
}

const SEALED_COLUMNS: readonly SealedColumn[] = [
  // Retired platforms too: their rows keep the credential.
  { table: 'platforms', column: 'auth_secret', context: (id) => id },
  { table: 'webhooks', column: 'secret', context: secretContext },
];

const PAGE = 200;

export interface ResealReport {
  /** Values sealed again under the current key (another replica's count is its own). */
  resealed: number;
  /** Values changed by someone else between the read and the write: checked at the next start. */
  changed: number;
  /** `<table>/<id>` of values no key given opens: their jobs or deliveries keep failing. */
  unopenable: string[];
}

/**
 * Seals again under the current key every credential and webhook secret a previous key sealed,
 * so that the previous keys can be dropped. Each row is written only if it still holds what was
 * read, so replicas running it together, or a credential replaced meanwhile, lose nothing.
 */
export async function resealCredentials(knex: Knex, box: SecretBox): Promise<ResealReport> {
  const report: ResealReport = { resealed: 0, changed: 0, unopenable: [] };
  for (const { table, column, context } of SEALED_COLUMNS) {
    const rows = () => knex.withSchema('registry').table(table);
    let after: string | undefined;
    for (;;) {
      const query = rows()
        .select('id', `${column} as sealed`)
        .whereNotNull(column)
        .orderBy('id')
        .limit(PAGE);
      if (after !== undefined) void query.where('id', '>', after);
      const page = (await query) as { id: string; sealed: string }[];
      for (const { id, sealed } of page) {
        let fresh: string | undefined;
        try {
          fresh = box.reseal(sealed, context(id));
        } catch {
          report.unopenable.push(`${table}/${id}`);
          continue;
        }
        if (fresh === undefined) continue;
        const written = await rows()
          .where({ id, [column]: sealed })
          .update({ [column]: fresh });
        if (written === 1) report.resealed += 1;
        else report.changed += 1;
      }
      if (page.length < PAGE) break;
      after = page.at(-1)!.id;
    }
  }
  return report;
}
