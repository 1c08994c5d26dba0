import { ApiError } from './session.ts';

/**
 * Streams an export through this tab (the key travels as a header, which a plain link cannot
 * send) and hands it to the browser as a download named `filename`. A refusal is thrown as the
 * API's error envelope, so the button beside it shows the API's own message.
 */
export async function downloadExport(
  apiKey: string,
  path: string,
  filename: string,
): Promise<void> {
  const response = await fetch(path, { headers: { 'x-api-key': apiKey } });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as {
      error?: { code?: string; message?: string };
    };
    throw new ApiError(
      response.status,
      body.error?.code ?? `http_${response.status}`,
      body.error?.message ?? `export failed: HTTP ${response.status}`,
    );
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  // The click starts the download from the object URL; free it once the browser has read it.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
