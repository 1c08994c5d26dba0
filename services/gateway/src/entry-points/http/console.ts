import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import type { Middleware } from 'koa';

/** Where `@psc/console` (libs/console) writes its build: scripts/build.ts runs Vite into it. */
export const CONSOLE_DIST = join(
  dirname(createRequire(import.meta.url).resolve('@psc/console/package.json')),
  'dist',
);

/**
 * The console's own origin and nothing else: no CDN, no inline script, no frames. `connect-src
 * 'self'` keeps its API calls on this gateway.
 */
const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** Every file of the build, read once: the set is fixed at build time and a few hundred KB. */
function loadAssets(dir: string): Map<string, Asset> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const assets = new Map<string, Asset>();
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && TYPES[extname(entry.name)]) {
        const name = relative(dir, path).split(sep).join('/');
        assets.set(name, { body: readFileSync(path), type: TYPES[extname(entry.name)] ?? '' });
      }
    }
  };
  walk(dir);
  return assets;
}

/**
 * Serves the operator console under `prefix` (`/ui`) from its built files. No API key is needed
 * for these: the page signs in with a key and sends it as X-API-Key on its API calls.
 *
 * Names are looked up in the list of built files, never joined to a path, so no request reaches
 * outside the build. Hashed files under `assets/` are cached for a year; any other path under the
 * prefix answers the page itself (`no-cache`), so the client-side router owns deep links such as
 * `/ui/jobs/<id>`. Kept out of the OpenAPI document: it is a page, not part of the API.
 */
export function consoleAssets(options: { dir: string; prefix: string }): Middleware {
  const { dir, prefix } = options;
  let assets: Map<string, Asset> | undefined;
  return async (ctx, next) => {
    if (ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) {
      await next();
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      ctx.status = 405;
      return;
    }
    assets ??= loadAssets(dir);
    ctx.set('Content-Security-Policy', CONSOLE_CSP);
    if (!assets) {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'The console is not built: run `npm run build` (scripts/build.ts).\n';
      return;
    }
    const name = ctx.path.slice(prefix.length + 1);
    const asset = name === '' ? undefined : assets.get(name);
    if (asset) {
      ctx.set(
        'Cache-Control',
        name.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      ctx.type = asset.type;
      ctx.body = asset.body;
      return;
    }
    // A missing hashed file is a stale page asking for an old build: 404, not the page.
    if (name.startsWith('assets/') || extname(name) !== '') {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'not found\n';
      return;
    }
    const page = assets.get('index.html');
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = TYPES['.html'] ?? '';
    ctx.body = page?.body;
  };
}
