import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { runService } from '@psc/service';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

runService({
  name: 'gateway',
  loadConfig: () => loadConfig(process.env),
  schema: SCHEMA,
  migrations,
  createApp: (deps) =>
    createApp({
      ...deps,
      replicaId: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    }),
});
