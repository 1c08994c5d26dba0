export * from './errors.ts';
export * from './env.ts';
export * from './clock.ts';
export * from './wait.ts';
export * from './coalescer.ts';
export * from './merge-patch.ts';
export * from './stop-in-order.ts';
