import type { ScenarioName } from '../lib/args.ts';
import type { BenchContext } from '../lib/context.ts';
import { bulkSync } from './bulk-sync.ts';
import { fanOut } from './fan-out.ts';
import { gateway } from './gateway.ts';
import { jobPipeline } from './job-pipeline.ts';
import { memory } from './memory.ts';
import { peers } from './peers.ts';
import { scheduler } from './scheduler.ts';

export const SCENARIO_RUNNERS: Record<
  ScenarioName,
  { title: string; run: (ctx: BenchContext) => Promise<void> }
> = {
  pipeline: { title: '1 job pipeline', run: jobPipeline },
  peers: { title: 'peers: pg-boss and BullMQ', run: peers },
  bulk: { title: '2 bulk sync', run: bulkSync },
  gateway: { title: '3 gateway', run: gateway },
  scheduler: { title: '4 scheduler', run: scheduler },
  fanout: { title: '5 fan-out', run: fanOut },
  memory: { title: '6 memory', run: memory },
};
