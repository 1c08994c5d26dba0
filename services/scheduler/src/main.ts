import { runService } from '@psc/service';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

runService({
  name: 'scheduler',
  loadConfig: () => loadConfig(process.env),
  schema: SCHEMA,
  migrations,
  createApp,
});
