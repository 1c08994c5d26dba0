import { createEgressGuard } from '@psc/egress';
import { configureExpressions } from '@psc/platform-http';
import { runService } from '@psc/service';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

runService({
  name: 'collector',
  loadConfig: () => {
    const config = loadConfig(process.env);
    configureExpressions(config.expressionBudget);
    return config;
  },
  schema: SCHEMA,
  migrations,
  // Every statement, a job's included: a frozen worker's locks hold a job up this long at most.
  lockTimeoutMs: (config) => config.lockTimeoutMs,
  createApp: (deps) =>
    createApp({ ...deps, egress: createEgressGuard({ allow: deps.config.egressAllow }) }),
  untilDrained: (app) => app.untilDrained(),
});
