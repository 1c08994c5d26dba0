import Router from '@koa/router';
import { createHttpServer, jsonBody } from '@psc/http';
import { createRpcClient, type Broker } from '@psc/messaging';
import type { Logger, Metrics } from '@psc/telemetry';
import type { Config } from './config.ts';
import { dataRoutes } from './entry-points/http/data.routes.ts';
import { jobRoutes } from './entry-points/http/jobs.routes.ts';
import { platformRoutes } from './entry-points/http/platforms.routes.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  broker: Broker;
  registry: Metrics['registry'];
}

/** The public API: validates at the edge, then asks the owning service over RabbitMQ. */
export function createApp(deps: AppDeps) {
  const { config, logger, broker } = deps;
  const rpc = createRpcClient({ broker, appId: 'gateway', timeoutMs: config.rpcTimeoutMs });
  const api = new Router({ prefix: '/api/v1' });
  api.use(jsonBody({ limitBytes: config.bodyLimitBytes }));
  for (const routes of [platformRoutes(rpc), jobRoutes(rpc), dataRoutes(rpc)]) {
    api.use(routes.routes(), routes.allowedMethods());
  }
  const http = createHttpServer({
    logger,
    registry: deps.registry,
    readiness: {
      broker: () => broker.check(),
    },
    routers: [api],
    port: config.http.port,
    host: config.http.host,
    securityHeaders: true,
  });

  return {
    async start() {
      const address = await http.start();
      logger.info({ url: address.url }, 'gateway listening');
      return address;
    },
    async stop() {
      await http.stop();
      await rpc.close();
    },
  };
}
