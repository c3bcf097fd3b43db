// Recorded-video mode in Chromium against the mock server: entered without getUserMedia or when
// the WebSocket never connects, the steps shown, a clip from the file input or MediaRecorder sent
// in sealed chunks (the mock opens each), a cut resumed, refusals explained, the same end screen.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launch } from './browser';
import { MockServer, type Script } from './mock-server';

const built = existsSync(fileURLToPath(new URL('../dist/index.html', import.meta.url)));
const skip = chromiumMissing();
if (skip) console.warn(`e2e (video mode, mock server) skipped: ${skip}`);

const OFFER = { enabled: true, max_bytes: 5 * 1024 * 1024, max_s: 30, chunk_bytes: 65_536 };

describe.skipIf(skip !== null)('video mode against the mock server', () => {
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

  /** The page in a browser without a camera API (as old WeChat WebViews), or with one. */
  async function open(script: Script, o: { extra?: string; noCamera?: boolean } = {}) {
    mock = new MockServer(script);
    const base = await mock.listen();
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    page = await ctx.newPage();
    if (o.noCamera) {
      await page.addInitScript(() => {
        delete (Navigator.prototype as { mediaDevices?: unknown }).mediaDevices;
      });
    }
    await page.goto(mock.link(base, o.extra ?? ''));
    return { base, page, mock };
  }
  const waitState = (p: Page, s: string, timeout = 20_000) => p.waitForSelector(`body[data-state="${s}"]`, { timeout });
  const video = (name: string, size: number, mimeType = 'video/mp4') => ({ name, mimeType, buffer: randomBytes(size) });

  it('without getUserMedia: lists the steps, takes a clip from the camera app, survives a cut, passes and goes back', async () => {
    // Chromium silently resends an idempotent PUT whose reused connection died unanswered, up to
    // two times: four cuts make sure the page itself sees at least one and asks what arrived.
    const { base, page, mock } = await open(
      { recording: OFFER, desk: { cutChunk: { index: 2, times: 4 } } },
      { noCamera: true },
    );
    mock.desk.script.verdict = () => ({ passed: true, reasons: [], text: '核验通过', return_url: `${base}/bank/done?v=1` });
    await waitState(page, 'video');
    expect(await page.locator('body').getAttribute('data-detail')).toBe('file');
    expect(await page.locator('#video-intro').textContent()).toContain('依次完成');
    expect(await page.locator('#video-steps li').allTextContents()).toEqual(['请眨眨眼', '请缓慢向左转头']);
    expect(await page.locator('#video-note').textContent()).toContain('最长 30 秒，不超过 5 MB');
    expect(await page.locator('#video-record-button').isVisible()).toBe(false);
    expect(await page.locator('#video-file-button').isVisible()).toBe(true);
    const input = page.locator('#video-file');
    expect(await input.getAttribute('accept')).toBe('video/*');
    expect(await input.getAttribute('capture')).toBe('user');
    expect(await page.locator('#upload-text').getAttribute('aria-live')).toBe('polite');

    const clip = video('VID_001.mp4', 300_000);
    await input.setInputFiles(clip);
    await waitState(page, 'passed', 30_000);
    expect(await page.locator('#result-title').textContent()).toBe('通过');
    expect(await page.locator('#result-text').textContent()).toBe('核验通过');
    await page.waitForURL(`${base}/bank/done?v=1`, { timeout: 6000 });
    // The mock opened every chunk with its key and joined the clip back, byte for byte.
    expect(mock.desk.clips).toHaveLength(1);
    expect(Buffer.from(mock.desk.clips[0]!.bytes).equals(clip.buffer)).toBe(true);
    expect(mock.desk.clips[0]!.mime).toBe('video/mp4');
    // The cut PUT was followed by a GET (what arrived?) and the chunk sent again.
    const log = mock.desk.log;
    const cutAt = log.findIndex((l) => l.status === 'cut');
    expect(cutAt).toBeGreaterThan(0);
    expect(log.slice(cutAt).some((l) => l.method === 'GET' && l.status === 200)).toBe(true);
    expect(log.filter((l) => l.method === 'PUT' && l.status === 200)).toHaveLength(5);
    expect(mock.upgrades).toBe(0);
  });

  it('refuses a file over the limit or not a video on the page, in English, sending nothing', async () => {
    const { page, mock } = await open({ recording: { ...OFFER, max_bytes: 1024 * 1024 } }, { noCamera: true, extra: '&lang=en' });
    await waitState(page, 'video');
    expect(await page.locator('#video-title').textContent()).toBe('Verify with a video');
    expect(await page.locator('#video-note').textContent()).toContain('at most 30 s and 1 MB');
    await page.locator('#video-file').setInputFiles(video('big.mp4', 1_500_000));
    await page.waitForSelector('body[data-detail="clip_too_large"]');
    expect(await page.locator('#video-error').textContent()).toBe('The video is too large (1.4 MB); the limit is 1 MB. Please record a shorter one.');
    await page.locator('#video-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.waitForSelector('body[data-detail="clip_not_video"]');
    expect(await page.locator('#video-error').textContent()).toBe('The file is not a video. Please record a video.');
    expect(await page.locator('#video-file-button').isVisible()).toBe(true);
    expect(mock.desk.log).toEqual([]);
  });

  it('a clip the server cannot decode (422) shows its message and lets the person record again', async () => {
    const { page, mock } = await open({ recording: OFFER, desk: { finishFirst: [422] } }, { noCamera: true });
    await waitState(page, 'video');
    await page.locator('#video-file').setInputFiles(video('broken.mp4', 70_000));
    await page.waitForSelector('body[data-state="video"][data-detail="http_422"]', { timeout: 20_000 });
    expect(await page.locator('#video-error').textContent()).toBe('视频无法使用（可能已损坏、格式不支持或超过 30 秒）。请重新录制。（视频无法解码）');
    expect(await page.locator('#video-file-button').isVisible()).toBe(true);
    await page.locator('#video-file').setInputFiles(video('again.mov', 90_000, 'video/quicktime'));
    await waitState(page, 'passed', 20_000);
    expect(mock.desk.clips.map((c) => c.mime)).toEqual(['video/mp4', 'video/quicktime']);
    // Two uploads, each with its own key (a fresh key per upload).
    const opens = mock.desk.log.filter((l) => l.method === 'POST' && l.tail === '');
    expect(opens.map((l) => l.status)).toEqual([201, 201]);
  });

  it('three failed WebSocket connections switch to recording in the page (MediaRecorder)', async () => {
    const { page, mock } = await open({ recording: OFFER, refuseWs: true });
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'video', 20_000);
    expect(mock.upgrades).toBe(3);
    expect(await page.locator('body').getAttribute('data-detail')).toBe('recorder');
    expect(await page.locator('#video-steps li').count()).toBe(2);
    await page.click('#video-record-button');
    await waitState(page, 'video_recording');
    expect(await page.locator('#video-timer').textContent()).toMatch(/还剩 \d+ 秒/);
    await page.waitForTimeout(2500);
    await page.click('#video-stop-button');
    await waitState(page, 'passed', 30_000);
    const clip = mock.desk.clips[0]!;
    expect(clip.mime).toBe('video/webm');
    // A WebM (EBML) file, some kilobytes of the fake camera.
    expect(Buffer.from(clip.bytes.subarray(0, 4)).toString('hex')).toBe('1a45dfa3');
    expect(clip.bytes.length).toBeGreaterThan(5_000);
  });

  it("the scene's fallback triggers rule: two failed connections step down, a missing camera does not", async () => {
    const triggers = { missing_capability: false, failures: 2, poor_network: false };
    const { page, mock } = await open({ recording: OFFER, refuseWs: true, fallback: { order: ['action', 'recording'], triggers } });
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'video', 20_000);
    expect(mock.upgrades).toBe(2);
    await page.context().close();
    await mock.close();
    // No step down on a missing capability: the page explains instead of offering a recording.
    const second = await open({ recording: OFFER, fallback: { order: ['action', 'recording'], triggers } }, { noCamera: true });
    await waitState(second.page, 'error');
    expect(await second.page.locator('body').getAttribute('data-detail')).toBe('no_camera_api');
    expect(second.mock.desk.log).toEqual([]);
  });

  it('without recording enabled the page keeps its old message', async () => {
    const { page, mock } = await open({}, { noCamera: true });
    await waitState(page, 'error');
    expect(await page.locator('body').getAttribute('data-detail')).toBe('no_camera_api');
    expect(await page.locator('#message-text').textContent()).toContain('不支持摄像头');
    expect(mock.desk.log).toEqual([]);
  });
});
