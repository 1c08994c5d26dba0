export { externalUrls, infraMode, startInfra, type Infra } from './infra.ts';
export {
  ENABLE_COMMAND,
  ensureManagementPlugin,
  localManagementPluginDeps,
  planManagementPlugin,
  type ManagementPlan,
  type ManagementPluginDeps,
} from './management-plugin.ts';
export {
  createIsolatedEnv,
  dropStaleTestResources,
  type DroppedTestResources,
  type IsolatedEnv,
  type IsolatedEnvOptions,
} from './isolation.ts';
export { waitFor, WaitForTimeoutError, type WaitForOptions } from './wait-for.ts';
export {
  startFakePlatform,
  type FakePlatform,
  type FakePlatformOptions,
  type FakeReply,
  type RecordedRequest,
  type RouteHandler,
} from './fake-platform.ts';
export type { FakeFault, FaultScope } from './fake-platform-faults.ts';
export type {
  CollectionOptions,
  Item,
  PageMeta,
  PagingParamNames,
  PagingStyle,
} from './fake-platform-paging.ts';
export { boothSample, type BoothItem, type BoothMenu } from './booth-sample.ts';
export {
  startOtlpReceiver,
  type CollectedSpan,
  type OtlpReceiver,
  type RejectedExport,
} from './otlp-receiver.ts';
export {
  spawnService,
  type LineMatcher,
  type ServiceExit,
  type ServiceProcess,
  type SpawnServiceOptions,
} from './service-process.ts';
export { freePort } from './ports.ts';
export { waitUntilReady, waitUntilStarted } from './service-ready.ts';
export {
  SERVICE_EXTRA_FLAGS,
  SERVICE_NODE_FLAGS,
  serviceLaunch,
  type ServiceLaunch,
} from './service-launch.ts';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
export { closeConsumerChannels, consumingChannelLimits } from './consumer-channels.ts';
