export { runService, type RunServiceOptions, type ServiceDeps } from './run-service.ts';
