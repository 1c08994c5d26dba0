import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Router from '@koa/router';
import { z } from 'zod';
import { NotFoundError } from '@psc/core';
import { operation, route } from './operation.ts';

const DIST = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

// validatorUrl null: Swagger UI would otherwise send the spec to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui',
  validatorUrl: null, persistAuthorization: false });`;

const ASSETS: Record<string, { file?: string; text?: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'application/javascript' },
  'init.js': { text: INIT, type: 'application/javascript' },
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>psc API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

/** Everything the page loads comes from here: no CDN, nothing from outside. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'";

const tag = 'service';

export const docsOperations = {
  openApi: operation({
    method: 'get',
    path: '/openapi.json',
    prefix: '',
    operationId: 'getOpenApi',
    summary: 'This document',
    tag,
    role: null,
    responses: {
      200: {
        description: 'OpenAPI 3.1',
        schema: z.looseObject({ openapi: z.string() }).meta({ id: 'OpenApiDocument' }),
      },
    },
  }),
  page: operation({
    method: 'get',
    path: '/docs',
    prefix: '',
    operationId: 'getDocsPage',
    summary: 'Browse this document (Swagger UI, served by the gateway itself)',
    tag,
    role: null,
    responses: { 200: { description: 'The page', content: { 'text/html': z.string() } } },
  }),
  asset: operation({
    method: 'get',
    path: '/docs/:asset',
    prefix: '',
    operationId: 'getDocsAsset',
    summary: 'A script or style sheet of the docs page',
    tag,
    role: null,
    params: z.object({ asset: z.string().max(100).meta({ example: 'init.js' }) }),
    responses: {
      200: {
        description: 'The asset',
        content: { 'application/javascript': z.string(), 'text/css': z.string() },
      },
    },
    errors: [404],
  }),
};

/** `/openapi.json` and a Swagger UI at `/docs`, served from swagger-ui-dist; no key needed. */
export function docsRoutes(openApi: () => object): Router {
  const router = new Router();
  const cache = new Map<string, Buffer | string>();
  route(router, docsOperations.openApi, (ctx) => {
    ctx.body = openApi();
  });
  route(router, docsOperations.page, (ctx) => {
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.type = 'text/html';
    ctx.body = PAGE;
  });
  route(router, docsOperations.asset, async (ctx, { params }) => {
    const asset = ASSETS[params.asset];
    if (!asset) throw new NotFoundError(`no asset ${params.asset}`);
    let content = cache.get(params.asset);
    if (content === undefined) {
      content = asset.text ?? (await readFile(join(DIST, asset.file ?? '')));
      cache.set(params.asset, content);
    }
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.type;
    ctx.body = content;
  });
  return router;
}
