// Colour flash in Chromium (fake camera) against the mock server: the page lights the screen
// with the server's sequence, in order and for each step's time, and tags every frame with the
// step on screen when it was captured. (The fake camera cannot reflect the screen, so whether a
// face answers is tested on the server with the simulator: actors/tests/flash_session.rs.)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launch } from './browser';
import { MockServer } from './mock-server';

const built = existsSync(fileURLToPath(new URL('../dist/index.html', import.meta.url)));
const skip = chromiumMissing();
if (skip) console.warn(`e2e (flash) skipped: ${skip}`);

const STEPS = [
  { tag: 1, colour: 'red', rgb: '#ff0000', ms: 300 },
  { tag: 2, colour: 'cyan', rgb: '#00ffff', ms: 250 },
  { tag: 3, colour: 'blue', rgb: '#0000ff', ms: 300 },
  { tag: 4, colour: 'yellow', rgb: '#ffff00', ms: 200 },
  { tag: 5, colour: 'magenta', rgb: '#ff00ff', ms: 300 },
  { tag: 6, colour: 'green', rgb: '#00ff00', ms: 250 },
];

describe.skipIf(skip !== null)('the colour flash against the mock server', () => {
  let browser: Browser;
  let mock: MockServer | null = null;
  let page: Page | null = null;

  beforeAll(async () => {
    if (!built) throw new Error('dist/index.html is missing: run npm run build (npm test does)');
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await page?.context().close();
    page = null;
    await mock?.close();
    mock = null;
  });

  it('flashes the server sequence around the face oval and tags each frame with the colour on screen', async () => {
    mock = new MockServer({
      steps: [],
      flash: { steps: STEPS, at: 4 },
      resultAt: 60,
      result: { passed: true, reasons: [], text: '验证通过' },
    });
    const base = await mock.listen();
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    page = await ctx.newPage();
    // Record every colour the overlay shows, with the wall clock (the frames' capture_ms clock).
    await page.addInitScript(() => {
      const w = window as unknown as { shown: { tag: string; bg: string; at: number }[] };
      w.shown = [];
      const watch = () => {
        const el = document.getElementById('flash-overlay');
        if (!el) return false;
        new MutationObserver(() => {
          const tag = el.dataset.tag ?? '0';
          const last = w.shown[w.shown.length - 1];
          if (!last || last.tag !== tag) w.shown.push({ tag, bg: el.style.background, at: Date.now() });
        }).observe(el, { attributes: true });
        return true;
      };
      const poll = setInterval(() => {
        if (watch()) clearInterval(poll);
      }, 5);
    });
    await page.goto(mock.link(base));
    await page.waitForSelector('body[data-state="consent"]');
    await page.click('#start-button');
    // Before the colours: hold still, close to the screen.
    await page.waitForFunction(() => document.querySelector('#step-text')?.textContent === '请保持不动，脸靠近屏幕', undefined, { timeout: 20_000 });
    await page.waitForSelector('body[data-state="passed"]', { timeout: 30_000 });

    const shown = (await page.evaluate(() => (window as unknown as { shown: { tag: string; bg: string; at: number }[] }).shown)).filter(
      (s) => s.tag !== '0' || s.bg === '',
    );
    // The server's sequence, in order, each colour in the overlay's background with the oval cut out.
    const colours = shown.filter((s) => s.tag !== '0');
    expect(colours.map((s) => Number(s.tag))).toEqual(STEPS.map((s) => s.tag));
    for (const [i, s] of colours.entries()) {
      const [r, g, b] = [1, 3, 5].map((k) => parseInt(STEPS[i]!.rgb.slice(k, k + 2), 16));
      expect(s.bg).toContain(`rgb(${r}, ${g}, ${b})`);
      expect(s.bg).toContain('radial-gradient');
      expect(s.bg).toContain('transparent');
    }
    // Each for its time (timers on a loaded machine slip a little).
    for (let i = 0; i + 1 < colours.length; i++) {
      const lasted = colours[i + 1]!.at - colours[i]!.at;
      expect(Math.abs(lasted - STEPS[i]!.ms)).toBeLessThan(120);
    }
    const end = shown.find((s, i) => i > 0 && s.tag === '0');
    expect(end, 'the overlay goes away after the last colour').toBeDefined();

    // The frames: tags climb 0, 1 ... 6, 0 and never go back; each is the step on screen at capture.
    const frames = mock.frames;
    const tags = frames.map((f) => f.flash);
    expect(tags[0]).toBe(0);
    const firstTagged = tags.findIndex((t) => t !== 0);
    expect(firstTagged).toBeGreaterThan(0);
    const after = tags.slice(firstTagged);
    const lastTagged = firstTagged + after.findIndex((t) => t === 0);
    expect(lastTagged).toBeGreaterThan(firstTagged);
    expect(tags.slice(lastTagged).every((t) => t === 0)).toBe(true);
    const during = tags.slice(firstTagged, lastTagged);
    expect(during.every((t, i) => i === 0 || t >= during[i - 1]!)).toBe(true);
    expect(new Set(during).size, `tags seen ${during}`).toBeGreaterThanOrEqual(4);
    const onScreenAt = (ms: number) => {
      let tag = 0;
      for (const s of shown) if (s.at <= ms) tag = Number(s.tag);
      return tag;
    };
    let checked = 0;
    for (const f of frames) {
      const at = Number(f.captureMs);
      // Frames within a few ms of a change may fall on either side of it.
      if (shown.some((s) => Math.abs(s.at - at) < 15)) continue;
      expect(f.flash, `frame ${f.seq} at ${at}`).toBe(onScreenAt(at));
      checked += 1;
    }
    expect(checked).toBeGreaterThan(20);
  });
});
