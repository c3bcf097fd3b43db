// Chromium through playwright-core (the system's /usr/bin/chromium: nothing is downloaded), with
// the flags ui/h5's tests use; and the console's test artefacts folder.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.LIVEGATE_CHROMIUM ?? '/usr/bin/chromium';
export const CONSOLE = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DIST = join(CONSOLE, 'dist');
/** Screenshots of every page: a test artefact (gitignored). */
export const RESULTS = join(CONSOLE, 'test-results');

export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (set LIVEGATE_CHROMIUM)`;
}

/** A console that is not built is a failure, not a skip: `npm test` builds it first. */
export function assertBuilt(): void {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST}/index.html is missing: run npm run build (npm test does)`);
}

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launch(fakeCamera?: { clip?: string }): Promise<Browser> {
  const args = [...ARGS];
  if (fakeCamera) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required');
    if (fakeCamera.clip) args.push(`--use-file-for-fake-video-capture=${fakeCamera.clip}`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * Saves a full-page screenshot as test-results/<prefix>-<name>.png. The console scrolls inside
 * its main pane (the page itself never grows), so the viewport is stretched to that pane's
 * content for the picture, then put back.
 */
export async function shot(page: Page, prefix: string, name: string): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, `${prefix}-${name}.png`);
  const viewport = page.viewportSize();
  const needed = await page.evaluate(() => {
    const main = document.querySelector('.main');
    return main ? Math.ceil(main.getBoundingClientRect().top + main.scrollHeight) : 0;
  });
  const stretch = viewport !== null && needed > viewport.height;
  if (stretch) {
    await page.setViewportSize({ width: viewport.width, height: Math.min(needed, 6000) });
    await page.waitForTimeout(300); // charts and tables follow the resize
  }
  await page.mouse.move(0, 0); // no hover highlight left where the test last clicked
  // Element Plus tags and dialogs fade in: the picture waits for running transitions (bounded).
  await page.evaluate(() => Promise.race([Promise.all(document.getAnimations().map((a) => a.finished)), new Promise((r) => setTimeout(r, 2000))])).catch(() => {});
  try {
    await page.screenshot({ path, fullPage: true });
  } finally {
    if (stretch) await page.setViewportSize(viewport);
  }
  return path;
}

/** Removes the screenshots a previous run left under a prefix, so the folder shows this run. */
export function clearShots(prefix: string): void {
  if (!existsSync(RESULTS)) return;
  for (const f of readdirSync(RESULTS)) if (f.startsWith(`${prefix}-`) && f.endsWith('.png')) rmSync(join(RESULTS, f));
}

/**
 * Watches a page for what must never happen: a CSP violation, an uncaught error, a console
 * error other than the failed requests a test provokes on purpose.
 */
export async function watch(page: Page): Promise<{ csp: string[]; errors: string[] }> {
  const seen = { csp: [] as string[], errors: [] as string[] };
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.csp.push(m.text());
  });
  await page.exposeFunction('__cspViolation', (v: string) => seen.csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { __cspViolation(v: string): void }).__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI}`),
    );
  });
  return seen;
}
