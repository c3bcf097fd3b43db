// The page against the real server (target/release/livegate serve, temp data dir, free port) in
// Chromium with a fake camera fed from ../shared/media, under the server's own CSP. Skips, saying
// why, only when the binary, Chromium, ffmpeg or LIVEGATE_TEST_MEDIA is missing; anything else
// (no dist/, a 404, a CSP violation) fails.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launch } from './browser';
import { Relay, assertBuilt, createApp, createSession, livegateMissing, openApi, setScene, startLivegate, type Livegate } from './livegate';
import { hasFfmpeg, mediaDir, stillToMp4, stillToY4m, tempDir, videoToY4m } from './media';

const media = mediaDir();
const skip =
  livegateMissing() ?? chromiumMissing() ?? (hasFfmpeg() ? null : 'ffmpeg is not installed') ?? ('skip' in media ? media.skip : null);
if (skip) console.warn(`e2e (real server) skipped: ${skip}`);

describe.skipIf(skip !== null)('the page against livegate serve', () => {
  // Made in beforeAll: a skipped suite leaves no folder behind.
  let tmp: ReturnType<typeof tempDir>;
  let lg: Livegate;
  let app: { app_id: string; secret: string };
  let relay: Relay;
  let pageBase: string;
  const clips: Record<string, string> = {};
  const browsers: Browser[] = [];
  const dir = 'dir' in media ? media.dir : '';

  beforeAll(async () => {
    assertBuilt();
    tmp = tempDir();
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
    tmp?.cleanup();
  });

  // What the page could not do under the server's Content-Security-Policy, per page.
  const violations = new WeakMap<Page, string[]>();
  // The `result` message the server sent the page, per page.
  const results = new WeakMap<Page, { passed: boolean; reasons: string[]; text: string }>();
  // The hellos the page sent, per page (across reloads).
  const hellos = new WeakMap<Page, { resume: boolean; client_key: string }[]>();

  async function browse(clip: string | undefined, deny = false): Promise<Page> {
    const b = await launch({ clip, deny });
    browsers.push(b);
    const ctx = await b.newContext({ viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    const seen: string[] = [];
    violations.set(page, seen);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) seen.push(m.text());
    });
    hellos.set(page, []);
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => {
        if (typeof f.payload === 'string' && f.payload.includes('"hello"')) hellos.get(page)!.push(JSON.parse(f.payload));
      });
      ws.on('framereceived', (f) => {
        if (typeof f.payload !== 'string' || !f.payload.includes('"result"')) return;
        const m = JSON.parse(f.payload);
        if (m.type === 'result') results.set(page, m);
      });
    });
    await page.exposeFunction('__cspViolation', (v: string) => seen.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { __cspViolation(v: string): void }).__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI}`),
      );
    });
    return page;
  }
  /** Ends a test's page: nothing was blocked by the CSP. */
  async function done(page: Page): Promise<void> {
    expect(violations.get(page), 'CSP violations').toEqual([]);
    await page.context().close();
  }
  const waitState = (p: Page, s: string, timeout = 30_000) => p.waitForSelector(`body[data-state="${s}"]`, { timeout });
  const acked = async (p: Page) => Number((await p.locator('body').getAttribute('data-acked')) ?? 0);

  it('serves the built page at /h5/ with its CSP, and links to this server', async () => {
    const s = await createSession(lg, app, pageBase);
    expect(s.h5_url.startsWith(`${lg.base}/h5/?sid=${s.session_id}&t=`), s.h5_url).toBe(true);
    const r = await fetch(new URL(new URL(s.h5_url).pathname + new URL(s.h5_url).search, lg.base));
    expect(r.status).toBe(200);
    const csp = r.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'self'", "connect-src 'self' ws: wss:", "media-src 'self' blob: mediastream:"]) expect(csp).toContain(d);
    const html = await r.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/h5\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      const ar = await fetch(new URL(a, lg.base));
      expect(ar.status, a).toBe(200);
      expect(ar.headers.get('content-type') ?? '', a).toMatch(a.endsWith('.js') ? /javascript/ : /text\/css/);
    }
  });

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
    await done(page);
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
    await done(page);
  });

  it('a dropped connection reconnects, resumes the same session and goes on to the result', async () => {
    const s = await createSession(lg, app, pageBase, { scene: 'blink' });
    const page = await browse(clips.blinker);
    await page.goto(s.link);
    await page.click('#start-button');
    await page.waitForFunction(() => Number(document.body.dataset.acked ?? 0) >= 3, undefined, { timeout: 30_000 });
    const before = await acked(page);
    expect(relay.cut()).toBeGreaterThan(0);
    await waitState(page, 'reconnecting', 10_000);
    await page.waitForSelector('body[data-state="passed"], body[data-state="failed"], body[data-state="error"]', { timeout: 60_000 });
    const b = page.locator('body');
    expect(await b.getAttribute('data-state'), `end screen: ${await page.locator('#result-text').textContent()}`).toBe('passed');
    // Frames after the cut were accepted on the same session (seq went on from the server's next_seq).
    expect(await acked(page)).toBeGreaterThan(before);
    expect(await b.getAttribute('data-close-code')).toBeNull();
    const result = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${s.session_id}/result`);
    expect(result.json.status, JSON.stringify(result.json)).toBe('passed');
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('livegate-key-')))).toEqual([]);
    await done(page);
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
    // The hello after the reload is a resume with the key kept in sessionStorage.
    const sent = hellos.get(page) ?? [];
    expect(sent.map((h) => h.resume)).toEqual([false, true]);
    expect(sent[1]!.client_key).toBe(sent[0]!.client_key);
    await done(page);
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
    await done(page);
  });

  it('a still photo fails with a reason', async () => {
    const s = await createSession(lg, app, pageBase, { lang: 'en', scene: 'quick' });
    const page = await browse(clips.still);
    await page.goto(s.link);
    await page.click('#start-button');
    await waitState(page, 'failed', 100_000);
    expect(await page.locator('#result-title').textContent()).toBe('Not passed');
    const result = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${s.session_id}/result`);
    expect(result.json.status).toBe('failed');
    expect(result.json.reasons?.length, JSON.stringify(result.json)).toBeGreaterThan(0);
    // The page shows the server's reason (the `result` message's text, in the link's language).
    // Playwright may report the socket's frame a moment after the page drew the end screen.
    await expect.poll(() => results.get(page)?.passed, { timeout: 5000 }).toBe(false);
    const sent = results.get(page);
    expect(sent?.text, JSON.stringify(sent)).toBeTruthy();
    const shown = await page.locator('#result-text').textContent();
    expect(shown).toBe(sent!.text);
    console.info(`still photo: reasons ${JSON.stringify(result.json.reasons)}, shown "${shown}"`);
    await done(page);
  });
  // Recorded-video mode (docs/h5-protocol.md §7): a browser without getUserMedia, a clip from the
  // "camera app" (the file input), the server decodes it and decides on every frame.
  let recordedScene = false;
  async function recordedPage(lang?: 'en'): Promise<{ page: Page; session_id: string }> {
    // Set here, not in beforeAll: the other tests do not depend on this scene rule.
    if (!recordedScene) {
      setScene(lg, 'recorded', { recording: { enabled: true }, actions: { pool: ['blink'], count: 1 } }, tmp.dir);
      recordedScene = true;
    }
    const s = await createSession(lg, app, pageBase, { scene: 'recorded', ...(lang ? { lang } : {}) });
    const page = await browse(undefined);
    await page.addInitScript(() => {
      delete (Navigator.prototype as { mediaDevices?: unknown }).mediaDevices;
    });
    await page.goto(s.link);
    await waitState(page, 'video');
    expect(await page.locator('body').getAttribute('data-detail')).toBe('file');
    // The one step of the scene, with its text, before anything is recorded.
    expect(await page.locator('#video-steps li').count()).toBe(1);
    expect(await page.locator('#video-steps li').first().getAttribute('data-action')).toBe('blink');
    expect((await page.locator('#video-steps li').first().textContent())?.length).toBeGreaterThan(0);
    return { page, session_id: s.session_id };
  }
  const endScreen = (p: Page) =>
    p.waitForSelector('body[data-state="passed"], body[data-state="failed"], body[data-state="error"]', { timeout: 110_000 });

  it('without getUserMedia, a recorded clip of the asked blink passes', async () => {
    const { page, session_id } = await recordedPage();
    await page.locator('#video-file').setInputFiles(join(dir, 'Blink-Detector_repeating/video.mp4'));
    await endScreen(page);
    const b = page.locator('body');
    expect(await b.getAttribute('data-state'), `end: ${await b.getAttribute('data-detail')} ${await page.locator('#result-text').textContent()} ${await page.locator('#video-error').textContent()}`).toBe('passed');
    expect(await page.locator('#result-title').textContent()).toBe('通过');
    const result = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${session_id}/result`);
    expect(result.json.status, JSON.stringify(result.json)).toBe('passed');
    expect(result.json.capture, JSON.stringify(result.json)).toBe('recording');
    // Nothing of the upload is kept in the tab after the verdict.
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('livegate-')))).toEqual([]);
    await page.reload();
    await waitState(page, 'passed');
    await done(page);
  });

  it('a clip the server cannot decode is refused with its message; the person records again and passes', async () => {
    const { page, session_id } = await recordedPage('en');
    // Bytes that claim to be an mp4: the page sends them, the server's FFmpeg cannot read them.
    await page.locator('#video-file').setInputFiles({ name: 'broken.mp4', mimeType: 'video/mp4', buffer: randomBytes(300_000) });
    await page.waitForSelector('body[data-state="video"][data-detail="http_422"]', { timeout: 60_000 });
    const said = (await page.locator('#video-error').textContent()) ?? '';
    // The page's plain explanation, then the server's own message in the link's language.
    expect(said.startsWith('The video could not be used (it may be damaged, in an unsupported format, or longer than 30 s). Please record it again. ('), said).toBe(true);
    expect(said).not.toMatch(/[\u4e00-\u9fff]/);
    const pending = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${session_id}/result`);
    expect(pending.json.status, JSON.stringify(pending.json)).toBe('pending');
    await page.locator('#video-file').setInputFiles(join(dir, 'Blink-Detector_repeating/video.mp4'));
    await endScreen(page);
    expect(await page.locator('body').getAttribute('data-state'), await page.locator('#result-text').textContent() ?? '').toBe('passed');
    expect(await page.locator('#result-title').textContent()).toBe('Passed');
    await done(page);
  });

  it('a recorded clip of a still photo fails, with its reason shown', async () => {
    const still = stillToMp4(join(dir, 'Silent-Face-Anti-Spoofing/image_F1.jpg'), join(tmp.dir, 'still-photo.mp4'));
    const { page, session_id } = await recordedPage('en');
    await page.locator('#video-file').setInputFiles(still);
    await endScreen(page);
    const b = page.locator('body');
    expect(await b.getAttribute('data-state'), `end: ${await b.getAttribute('data-detail')} ${await page.locator('#video-error').textContent()}`).toBe('failed');
    expect(await page.locator('#result-title').textContent()).toBe('Not passed');
    const result = await openApi(lg.base, app, 'GET', `/open/v1/sessions/${session_id}/result`);
    expect(result.json.status, JSON.stringify(result.json)).toBe('failed');
    expect(result.json.reasons?.length, JSON.stringify(result.json)).toBeGreaterThan(0);
    const shown = await page.locator('#result-text').textContent();
    expect(shown).toBeTruthy();
    console.info(`recorded still photo: reasons ${JSON.stringify(result.json.reasons)}, shown "${shown}"`);
    await done(page);
  });
});
