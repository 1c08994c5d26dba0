import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Router from '@koa/router';

const DIST = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const ASSETS: Record<string, { file: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'application/javascript' },
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>psc API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

// validatorUrl null: Swagger UI would otherwise send the spec to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui',
  validatorUrl: null, persistAuthorization: false });`;

/** Everything the page loads comes from here: no CDN, nothing from outside. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'";

/** `/openapi.json` and a Swagger UI at `/docs`, served from swagger-ui-dist; no key needed. */
export function docsRoutes(openApi: () => object): Router {
  const router = new Router();
  const cache = new Map<string, Buffer>();
  router.get('/openapi.json', (ctx) => {
    ctx.body = openApi();
  });
  router.get('/docs', (ctx) => {
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.type = 'text/html';
    ctx.body = PAGE;
  });
  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'application/javascript';
    ctx.body = INIT;
  });
  router.get('/docs/:asset', async (ctx, next) => {
    const asset = ASSETS[ctx.params.asset ?? ''];
    if (!asset) {
      await next();
      return;
    }
    let content = cache.get(asset.file);
    if (!content) {
      content = await readFile(join(DIST, asset.file));
      cache.set(asset.file, content);
    }
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.type;
    ctx.body = content;
  });
  return router;
}
