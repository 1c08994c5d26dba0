#!/usr/bin/env node
// The built JavaScript when `npm run build` wrote it (no TypeScript compiler loaded per call),
// otherwise the sources through Node 24's type stripping.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/main.js', import.meta.url);
await import(existsSync(built) ? built.href : new URL('../src/main.ts', import.meta.url).href);
