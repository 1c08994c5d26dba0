import { createRequire } from 'node:module';
import type * as AmqpModule from '../../libs/messaging/node_modules/amqplib/index.d.ts';
import type KoaModule from '../../libs/http/node_modules/@types/koa/index.d.ts';

/*
 * bench/ is not a workspace package, so it borrows the copies of amqplib and Koa that psc's own
 * libs run on: the baselines then use exactly the driver versions psc uses, and no extra install
 * is needed. pg is a root dependency and is imported normally.
 */
const fromMessaging = createRequire(new URL('../../libs/messaging/package.json', import.meta.url));
const fromHttp = createRequire(new URL('../../libs/http/package.json', import.meta.url));

export type Amqp = typeof AmqpModule;
export type KoaClass = typeof KoaModule;

export const amqp = fromMessaging('amqplib') as Amqp;
export const Koa = fromHttp('koa') as KoaClass;
