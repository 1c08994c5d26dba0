import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it); never a downloaded build. */
const CHROMIUM = process.env.PSC_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless Chromium with everything that would talk to the outside switched off: the console
 * must work, and be tested, with nothing but the gateway on loopback.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Signs in on the console's page with `apiKey` and waits for the overview. */
export async function signIn(page: Page, gatewayUrl: string, apiKey: string): Promise<void> {
  await page.goto(`${gatewayUrl}/ui/`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}
