/**
 * GET on RabbitMQ's management API. fetch refuses URLs that carry credentials, so the
 * user:password of the management URL becomes a Basic auth header.
 */
export async function managementGet<T>(managementUrl: string, path: string): Promise<T> {
  const url = new URL(path, managementUrl);
  const authorization = `Basic ${Buffer.from(
    `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
  ).toString('base64')}`;
  url.username = '';
  url.password = '';
  const response = await fetch(url, {
    headers: { authorization },
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    throw new Error(`RabbitMQ management GET ${path}: HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}
