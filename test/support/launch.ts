import { serviceLaunch, type ServiceLaunch } from '@psc/testing';
import { build, repoRoot } from '../../scripts/build.ts';

let built = false;

/**
 * The production launch of a service (its built dist/, psc's Node flags). Builds first, once per
 * test process, so a test run after editing a source never runs stale output; an up-to-date
 * build takes milliseconds.
 */
export function launchOf(name: string): ServiceLaunch {
  if (!built) {
    build(repoRoot);
    built = true;
  }
  return serviceLaunch(repoRoot, name);
}
