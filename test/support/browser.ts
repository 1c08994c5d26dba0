import { existsSync } from 'node:fs';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
} from 'playwright-core';

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

/** A console error a page is expected to log: an API answer (4xx) the page shows on purpose. */
export type ShownAnswer = (text: string, url: string) => boolean;

/**
 * Watches browser contexts for what the console must never do: send a request anywhere but the
 * gateway (`elsewhere`), or log an error or throw (`problems`: CSP violations, failed loads, React
 * errors) other than the API answers `shown` lets through. Both lists must stay empty.
 */
export function consoleWatch(gatewayUrl: () => string, shown: ShownAnswer = () => false) {
  const elsewhere: string[] = [];
  const problems: string[] = [];
  return {
    elsewhere,
    problems,
    watch: (context: BrowserContext): void => {
      context.on('request', (request) => {
        const url = request.url();
        if (!url.startsWith(`${gatewayUrl()}/`) && !/^(data|blob):/.test(url)) elsewhere.push(url);
      });
      context.on('page', (p) => {
        p.on('console', (message) => {
          const url = message.location().url;
          // A failed load's text does not say what failed; its location is the resource.
          if (message.type() === 'error' && !shown(message.text(), url)) {
            problems.push(`${message.text()} (${url})`);
          }
        });
        p.on('pageerror', (err) => problems.push(err.message));
      });
    },
  };
}

/**
 * The `data-<name>` attribute of each of `rows`, in order, read in one go in the page. Reading
 * row by row (`rows.all()`, then each row) waits the whole timeout when a live table re-renders
 * between the two and a row is gone.
 */
export const rowData = (rows: Locator, name: string): Promise<(string | null)[]> =>
  rows.evaluateAll(
    (els: { getAttribute(name: string): string | null }[], attr: string) =>
      els.map((e) => e.getAttribute(attr)),
    `data-${name}`,
  );

/** The `href` of every element of `links`, read in one go (see {@link rowData}). */
export const hrefs = (links: Locator): Promise<(string | null)[]> =>
  links.evaluateAll((els: { getAttribute(name: string): string | null }[]) =>
    els.map((e) => e.getAttribute('href')),
  );
