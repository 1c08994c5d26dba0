import type { Knex } from 'knex';

const SCHEMA = 'scheduler';

/**
 * What the leader's plan is made from changed: a row per change, written by triggers on the
 * tables a plan reads, so no writer (the platform projection, task configs, switches, collector
 * stops, today's or a later one) can forget to say so. The leader plans again when it finds
 * rows here, and deletes the ones its plan saw in the transaction that writes the plan; while
 * there are none and no schedule is due it keeps its last plan instead of reading every
 * schedule each tick (`tick.store.ts`).
 *
 * Only changes that can start a schedule or bring one forward count: a schedule resumed (not
 * paused, nor a failure counted, nor the tick's own writes), and the scheduler's switch or
 * resume time (not `last_tick_at`, written every tick). Inserts only, so writers never wait on
 * each other or on the tick.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).createTable('plan_changes', (t) => {
    t.bigIncrements('id').primary();
    t.text('source').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`
    create function ${SCHEMA}.note_plan_change() returns trigger language plpgsql as $$
    begin
      insert into ${SCHEMA}.plan_changes (source) values (tg_table_name);
      return null;
    end $$`);
  for (const table of ['platforms', 'task_configs', 'collect_stops']) {
    await knex.raw(
      `create trigger plan_change after insert or update or delete on ${SCHEMA}.${table}
         for each statement execute function ${SCHEMA}.note_plan_change()`,
    );
  }
  await knex.raw(
    `create trigger plan_change after update on ${SCHEMA}.schedules for each row
       when (old.paused_reason is not null and new.paused_reason is null)
       execute function ${SCHEMA}.note_plan_change()`,
  );
  await knex.raw(
    `create trigger plan_change after update on ${SCHEMA}.control for each row
       when (old.state is distinct from new.state or old.resumed_at is distinct from new.resumed_at)
       execute function ${SCHEMA}.note_plan_change()`,
  );
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['platforms', 'task_configs', 'collect_stops', 'schedules', 'control']) {
    await knex.raw(`drop trigger plan_change on ${SCHEMA}.${table}`);
  }
  await knex.raw(`drop function ${SCHEMA}.note_plan_change()`);
  await knex.schema.withSchema(SCHEMA).dropTable('plan_changes');
}
