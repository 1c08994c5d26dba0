export { createEgressGuard, type EgressGuard, type EgressGuardOptions } from './egress-guard.ts';
export { parseAllowList, type AllowList } from './allow-list.ts';
export { blockedReason } from './blocked-ranges.ts';
