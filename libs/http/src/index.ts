export {
  createHttpServer,
  type HttpServer,
  type HttpServerOptions,
  type HttpAddress,
  type MountableRouter,
  type ServedRoute,
  type RouterMiddlewareLike,
} from './server.ts';
export { errorMiddleware, formatPath, type ValidationIssue } from './error-middleware.ts';
export { errorEnvelope, codeForStatus, type ErrorEnvelope } from './envelope.ts';
export { jsonBody, discardRest, DISCARD_LIMIT_BYTES, type JsonBodyOptions } from './body.ts';
export { parse, body, query, params } from './validate.ts';
export { requestLog, type RequestLogOptions } from './request-log.ts';
export {
  createHealthRouter,
  checkReadiness,
  type ReadinessCheck,
  type ReadinessBody,
  type HealthRoutesOptions,
} from './health.ts';
export { securityHeaders } from './security-headers.ts';
