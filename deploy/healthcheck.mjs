// Container healthcheck: exit 0 when the process answers GET /health with 2xx, else 1.
// Plain .mjs so it starts fast and needs nothing from node_modules.
const port = process.env.HEALTHCHECK_PORT ?? process.env.HTTP_PORT ?? '8080';
const url = process.env.HEALTHCHECK_URL ?? `http://127.0.0.1:${port}/health`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
