// Container healthcheck: exit 0 when the process answers GET /health (HEALTHCHECK_PATH) with 2xx,
// else 1. Plain .mjs so it starts fast and needs nothing from node_modules.
const port = process.env.HEALTHCHECK_PORT ?? process.env.HTTP_PORT ?? '8080';
const path = process.env.HEALTHCHECK_PATH ?? '/health';
const url = process.env.HEALTHCHECK_URL ?? `http://127.0.0.1:${port}${path}`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
