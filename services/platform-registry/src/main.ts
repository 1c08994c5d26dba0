import { configureExpressions } from '@psc/platform-http';
import { runService } from '@psc/service';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { SCHEMA, migrations } from '../migrations/index.ts';

runService({
  name: 'platform-registry',
  loadConfig: () => {
    const config = loadConfig(process.env);
    configureExpressions(config.expressionBudget);
    return config;
  },
  schema: SCHEMA,
  migrations,
  createApp: ({ connectBroker, ...deps }) =>
    createApp({ ...deps, publishBroker: connectBroker('publish') }),
});
