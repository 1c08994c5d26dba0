import type * as Zod from '../../../contracts/node_modules/zod/index.d.cts';

/*
 * @psc/messaging has no zod dependency, so test-only contracts borrow the copy @psc/contracts
 * uses. Types come from the declaration file contracts itself resolves (importing zod's ESM
 * declarations instead makes tsc compare two copies of zod and run out of memory); the value is
 * the ESM module contracts loads at run time, so there is one zod instance. Replace with
 * `export { z } from 'zod'` once zod is a devDependency of @psc/messaging.
 */
const zodUrl = new URL('../../../contracts/node_modules/zod/index.js', import.meta.url).href;
export const z = ((await import(zodUrl)) as typeof Zod).z;
