export { createDb, checkDb, type DbOptions } from './create-db.ts';
export { describeDbError } from './describe-db-error.ts';
export {
  runMigrations,
  type MigrationAction,
  type MigrationOptions,
  type MigrationReport,
} from './migrations.ts';
export { runMigrateCli, type MigrateCliOptions } from './migrate-cli.ts';
export { openDatabase, type OpenDatabaseOptions } from './open-database.ts';
export type { Knex } from 'knex';
export { isUnavailableError } from './unavailable.ts';
export {
  numbered,
  preparedByText,
  runPrepared,
  transactionWith,
  type PreparedStatement,
} from './hot-path.ts';
export {
  createAgeIndexes,
  createRetention,
  dropAgeIndexes,
  type Age,
  type Retention,
  type RetentionOptions,
  type RetentionRule,
} from './retention.ts';
export {
  createNotificationListener,
  type NotificationListener,
  type NotificationListenerOptions,
} from './notifications.ts';
export { provisionServiceRoles, removeServiceRoles, type ServiceRole } from './service-roles.ts';
