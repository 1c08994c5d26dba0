import { createIsolatedEnv } from '@psc/testing';
const t = Date.now();
const env = await createIsolatedEnv({ name: 'smoke' });
console.log(env.amqpUrl.replace(/:[^:@]*@/, ':***@'), env.databaseUrl.replace(/:[^:@]*@/, ':***@'), Date.now() - t);
await env.cleanup();
console.log('cleanup', Date.now() - t);
