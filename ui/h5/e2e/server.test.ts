// The page against the real server (target/release/livegate serve, temp data dir, free port) in
// Chromium with a fake camera fed from ../shared/media. Skips, saying why, when the binary,
// Chromium, ffmpeg or LIVEGATE_TEST_MEDIA is missing.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launch } from './browser';
import { Relay, createApp, createSession, livegateMissing, openApi, setScene, startLivegate, type Livegate } from './livegate';
import { hasFfmpeg, mediaDir, stillToY4m, tempDir, videoToY4m } from './media';

const media = mediaDir();
const skip =
  livegateMissing() ?? chromiumMissing() ?? (hasFfmpeg() ? null : 'ffmpeg is not installed') ?? ('skip' in media ? media.skip : null);
if (skip) console.warn(`e2e (real server) skipped: ${skip}`);

describe.skipIf(skip !== null)('the page against livegate serve', () => {
  const tmp = tempDir();
  let lg: Livegate;
  let app: { app_id: string; secret: string };
  let relay: Relay;
  let pageBase: string;
  const clips: Record<string, string> = {};
  const browsers: Browser[] = [];
  const dir = 'dir' in media ? media.dir : '';

  beforeAll(async () => {
    clips.person = videoToY4m(join(dir, 'LivePortrait/d3.mp4'), join(tmp.dir, 'person.y4m'));
    // A person who blinks every second or two: the clip for a scene that asks for a blink.
    clips.blinker = videoToY4m(join(dir, 'Blink-Detector_repeating/video.mp4'), join(tmp.dir, 'blinker.y4m'));
    clips.still = stillToY4m(join(dir, 'face_recognition/obama.jpg'), join(tmp.dir, 'still.y4m'));
    lg = await startLivegate(join(tmp.dir, 'data'));
    app = createApp(lg);
    setScene(lg, 'blink', { actions: { pool: ['blink'], count: 1 }, timeouts: { step_s: 10, session_s: 20 } }, tmp.dir);
    setScene(lg, 'quick', { actions: { pool: ['blink'], count: 1 }, timeouts: { step_s: 3, session_s: 10 } }, tmp.dir);
    relay = new Relay(lg.port);
    pageBase = await relay.listen();
  });

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => {});
    await relay?.close();
    await lg?.stop();
    tmp.cleanup();
  });

  async function browse(clip: string | undefined, deny = false): Promise<Page> {
    const b = await launch({ clip, deny });
    browsers.push(b);
    const ctx = await b.newContext({ viewport: { width: 390, height: 844 } });
    return ctx.newPage();
  }
  const waitState = (p: Page, s: string, timeout = 30_000) => p.waitForSelector(`body[data-state="${s}"]`, { timeout });
  const acked = async (p: Page) => Number((await p.locator('body').getAttribute('data-acked')) ?? 0);

  it('streams sealed frames the server accepts, and shows its instructions', async () => {
    const s = await createSession(lg, app, pageBase);
    const page = await browse(clips.person);
    await page.goto(s.link);
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'streaming');
    await page.waitForFunction(() => Number(document.body.dataset.acked ?? 0) >= 20, undefined, { timeout: 30_000 });
    expect(await page.locator('#step-text').textContent()).not.toBe('');
    expect(await page.locator('body').getAttribute('data-close-code')).toBeNull();
    const result = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${s.session_id}/result`);
    expect(result.status).toBe(200);
    await page.context().close();
  });

  it('a refused camera shows its message and sends nothing', async () => {
    const s = await createSession(lg, app, pageBase, { lang: 'en' });
    const page = await browse(undefined, true);
    await page.goto(s.link);
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'camera_denied');
    expect(await page.locator('#message-text').textContent()).toContain('camera was not allowed');
    const result = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${s.session_id}/result`);
    expect(result.json.status).toBe('pending');
    await page.context().close();
  });

  it('a dropped connection reconnects and resumes the same session', async () => {
    const s = await createSession(lg, app, pageBase);
    const page = await browse(clips.person);
    await page.goto(s.link);
    await page.click('#start-button');
    await page.waitForFunction(() => Number(document.body.dataset.acked ?? 0) >= 10, undefined, { timeout: 30_000 });
    const before = await acked(page);
    expect(relay.cut()).toBeGreaterThan(0);
    await waitState(page, 'reconnecting', 10_000);
    await waitState(page, 'streaming', 20_000);
    await page.waitForFunction((n) => Number(document.body.dataset.acked ?? 0) > n + 10, before, { timeout: 30_000 });
    expect(await page.locator('body').getAttribute('data-close-code')).toBeNull();
    await page.context().close();
  });

  it('a reload mid-session resumes the same session with the same key', async () => {
    const s = await createSession(lg, app, pageBase);
    const page = await browse(clips.person);
    await page.goto(s.link);
    await page.click('#start-button');
    await page.waitForFunction(() => Number(document.body.dataset.acked ?? 0) >= 10, undefined, { timeout: 30_000 });
    const before = await acked(page);
    await page.reload();
    await waitState(page, 'consent');
    await page.click('#start-button');
    // Acks continue past the frames before the reload: the server took the same key back.
    await page
      .waitForFunction((n) => Number(document.body.dataset.acked ?? 0) > n + 5, before, { timeout: 30_000 })
      .catch(async (e) => {
        const b = page.locator('body');
        throw new Error(`${e}; state ${await b.getAttribute('data-state')} detail ${await b.getAttribute('data-detail')} close ${await b.getAttribute('data-close-code')} acked ${await b.getAttribute('data-acked')} before ${before}`);
      });
    expect(await page.locator('body').getAttribute('data-close-code')).toBeNull();
    await page.context().close();
  });

  // Pass and fail need the scene's actions and timing; they run through to the verdict.
  it('a real person doing the asked actions passes; a reload shows the end screen', async () => {
    const s = await createSession(lg, app, pageBase, { scene: 'blink' });
    const page = await browse(clips.blinker);
    await page.goto(s.link);
    await page.click('#start-button');
    await page.waitForSelector('body[data-state="passed"], body[data-state="failed"], body[data-state="error"]', { timeout: 100_000 });
    const state = await page.locator('body').getAttribute('data-state');
    const text = await page.locator('#result-text').textContent();
    expect(state, `end screen: ${text}`).toBe('passed');
    expect(await page.locator('#result-title').textContent()).toBe('通过');
    await page.reload();
    await waitState(page, 'passed');
    await page.context().close();
  });

  it('a still photo fails with a reason', async () => {
    const s = await createSession(lg, app, pageBase, { lang: 'en', scene: 'quick' });
    const page = await browse(clips.still);
    await page.goto(s.link);
    await page.click('#start-button');
    await waitState(page, 'failed', 100_000);
    expect(await page.locator('#result-title').textContent()).toBe('Not passed');
    expect((await page.locator('#result-text').textContent())?.length).toBeGreaterThan(0);
    const result = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${s.session_id}/result`);
    expect(result.json.status).toBe('failed');
    await page.context().close();
  });
});
