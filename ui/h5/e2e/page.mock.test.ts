// The page in Chromium (fake camera) against the mock server: every screen and the protocol as
// the page speaks it, without the Rust server. The real server's tests are in server.test.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launch } from './browser';
import { MockServer, type Script } from './mock-server';

const built = existsSync(fileURLToPath(new URL('../dist/index.html', import.meta.url)));
const skip = chromiumMissing();
if (skip) console.warn(`e2e (mock server) skipped: ${skip}`);

describe.skipIf(skip !== null)('the page against the mock server', () => {
  let browser: Browser;
  let denied: Browser;
  let mock: MockServer | null = null;
  let page: Page | null = null;

  beforeAll(async () => {
    // Not built is a failure, not a skip: `npm test` builds first.
    if (!built) throw new Error('dist/index.html is missing: run npm run build (npm test does)');
    browser = await launch();
    denied = await launch({ deny: true });
  });
  afterAll(async () => {
    await browser?.close();
    await denied?.close();
  });
  afterEach(async () => {
    await page?.context().close();
    page = null;
    await mock?.close();
    mock = null;
  });

  async function open(script: Script, extra = '', b: Browser = browser, viewport = { width: 390, height: 844 }) {
    mock = new MockServer(script);
    const base = await mock.listen();
    const ctx = await b.newContext({ viewport, deviceScaleFactor: 1 });
    page = await ctx.newPage();
    await page.goto(mock.link(base, extra));
    return { base, page, mock };
  }

  const state = (p: Page) => p.locator('body').getAttribute('data-state');
  const waitState = (p: Page, s: string, timeout = 20_000) => p.waitForSelector(`body[data-state="${s}"]`, { timeout });

  it('explains the camera, streams sealed JPEGs, shows steps and prompts, passes and goes back', async () => {
    const { base, page, mock } = await open({
      promptAt: 5,
      framesPerStep: 12,
      result: { passed: true, reasons: [], text: '核验通过', return_url: 'RETURN' },
    });
    mock.script.result!.return_url = `${base}/bank/done?biz=1`;
    await waitState(page, 'consent');
    await expect(page.locator('#consent-text').textContent()).resolves.toContain('我们需要使用摄像头确认是您本人在操作');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await page.click('#start-button');
    await waitState(page, 'streaming');
    await page.waitForFunction(() => document.querySelector('#prompt-text')?.textContent === '请靠近一点');
    expect(await page.locator('#live').getAttribute('aria-live')).toBe('polite');
    await page.waitForFunction(() => document.querySelector('#step-text')?.textContent === '请眨眨眼');
    expect(await page.locator('#progress-text').textContent()).toBe('第 1 步，共 2 步');
    await page.waitForFunction(() => document.querySelector('#step-text')?.textContent === '请缓慢向左转头');
    expect(await page.locator('#progress-dots li.done').count()).toBe(1);
    await waitState(page, 'passed');
    expect(await page.locator('#result-title').textContent()).toBe('通过');
    expect(await page.locator('#result-text').textContent()).toBe('核验通过');
    expect(await page.locator('#return-button').isVisible()).toBe(true);
    await page.waitForURL(`${base}/bank/done?biz=1`, { timeout: 6000 });

    // What the server saw.
    expect(mock.hellos).toHaveLength(1);
    const hello = mock.hellos[0]!;
    expect(hello.suite).toBe('X25519-CHACHA20POLY1305-SHA256');
    expect(hello.resume).toBe(false);
    expect(hello.client).toMatchObject({ platform: { wechat: false, ios_webview: false }, track: { width: 640, height: 480 }, camera_label: expect.any(String) });
    expect(String(hello.client.user_agent)).toContain('Chrome');
    expect(mock.refused).toEqual([]);
    expect(mock.frames.length).toBeGreaterThanOrEqual(29);
    expect(mock.frames.every((f) => f.jpeg)).toBe(true);
    // 640x480 fake camera fitted into 480x640: 480x360.
    expect(mock.frames[0]).toMatchObject({ width: 480, height: 360 });
    expect(mock.frames.map((f) => Number(f.seq))).toEqual(mock.frames.map((_, i) => i + 1));
    expect(mock.maxUnacked).toBeLessThanOrEqual(2);
  });

  it('speaks English with lang=en and says "Not passed" with the reason', async () => {
    const { page } = await open({ framesPerStep: 3, result: { passed: false, reasons: ['STILL_IMAGE'], text: 'No live person was seen.' } }, '&lang=en');
    await waitState(page, 'consent');
    expect(await page.locator('#start-button').textContent()).toBe('Start');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.click('#start-button');
    await waitState(page, 'failed');
    expect(await page.locator('#result-title').textContent()).toBe('Not passed');
    expect(await page.locator('#result-text').textContent()).toBe('No live person was seen.');
    expect(await page.locator('#return-button').isVisible()).toBe(false);
  });

  it('a refused camera says so and how to allow it', async () => {
    const { page, mock } = await open({}, '', denied);
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'camera_denied');
    expect(await page.locator('#message-text').textContent()).toContain('您没有允许使用摄像头');
    expect(await page.locator('#message-help').textContent()).toContain('开启方法');
    expect(await page.locator('#retry-button').isVisible()).toBe(true);
    // The scene takes no recorded video: nothing else is offered.
    expect(await page.locator('#record-instead-button').isVisible()).toBe(false);
    expect(mock.hellos).toHaveLength(0);
  });

  it('a refused camera offers a recorded video when the scene takes one', async () => {
    const offer = { enabled: true, max_bytes: 5 * 1024 * 1024, max_s: 30, chunk_bytes: 65_536 };
    const { page, mock } = await open({ recording: offer }, '', denied);
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'camera_denied');
    const instead = page.locator('#record-instead-button');
    expect(await instead.textContent()).toBe('改为录制视频');
    await instead.click();
    await waitState(page, 'video');
    // The page may not use the camera: the phone's camera app records instead.
    expect(await page.locator('body').getAttribute('data-detail')).toBe('file');
    expect(await page.locator('#video-file').getAttribute('capture')).toBe('user');
    expect(mock.hellos).toHaveLength(0);
  });

  it('a dropped connection reconnects and resumes with the same key and growing seq', async () => {
    const { page, mock } = await open({ dropAt: 12, framesPerStep: 8, result: { passed: true, reasons: [], text: '通过' } });
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'passed', 40_000);
    expect(mock.hellos.length).toBeGreaterThanOrEqual(2);
    expect(mock.hellos[1]!.resume).toBe(true);
    expect(mock.hellos[1]!.client_key).toBe(mock.hellos[0]!.client_key);
    const seqs = mock.frames.map((f) => Number(f.seq));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(new Set(mock.frames.map((f) => f.conn)).size).toBeGreaterThanOrEqual(2);
    expect(mock.refused).toEqual([]);
  });

  it('a reload resumes with the key kept in sessionStorage (resume: true), forgotten at the result', async () => {
    const { page, mock } = await open({ framesPerStep: 15, result: { passed: true, reasons: [], text: '通过' } });
    const kept = () => page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('livegate-key-')));
    await waitState(page, 'consent');
    await page.click('#start-button');
    await page.waitForFunction(() => Number(document.body.dataset.acked ?? 0) >= 5);
    expect(await kept()).toEqual([`livegate-key-${mock.sid}`]);
    await page.reload();
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'passed', 40_000);
    expect(mock.hellos).toHaveLength(2);
    expect(mock.hellos[0]!.resume).toBe(false);
    expect(mock.hellos[1]!.resume).toBe(true);
    expect(mock.hellos[1]!.client_key).toBe(mock.hellos[0]!.client_key);
    expect(mock.refused).toEqual([]);
    expect(await kept()).toEqual([]);
  });

  it('slow acks: never more than two frames unacknowledged, and the rate falls', async () => {
    const { page, mock } = await open({ ackDelayMs: 300, framesPerStep: 1000 });
    await waitState(page, 'consent');
    await page.click('#start-button');
    await waitState(page, 'streaming');
    await page.waitForTimeout(4000);
    expect(mock.maxUnacked).toBeLessThanOrEqual(2);
    // 2 frames per 300 ms at most: under ~7 fps, well below the 15 of quick acks.
    expect(mock.frames.length).toBeLessThanOrEqual(4 * 7 + 2);
    expect(mock.frames.length).toBeGreaterThan(5);
  });

  it('superseded: stops and says the session went on elsewhere', async () => {
    const { page } = await open({ closeWith: { at: 4, code: 4013, reason: 'superseded' } });
    await page.click('#start-button');
    await waitState(page, 'error');
    expect(await page.locator('body').getAttribute('data-detail')).toBe('close_4013');
    expect(await page.locator('#message-text').textContent()).toContain('另一个页面');
  });

  it('a session-ending breach asks the server for the result, else explains', async () => {
    const { page } = await open({ closeWith: { at: 4, code: 4010, reason: 'duration_exceeded' } });
    await page.click('#start-button');
    await waitState(page, 'error');
    expect(await page.locator('#message-text').textContent()).toContain('核验时间过长');
  });

  it('a reload after the end shows the end screen without the camera', async () => {
    const { page, mock } = await open({ finished: { passed: false, reasons: ['FACE_CHANGED'], text: '检测到更换了人' } });
    await waitState(page, 'failed');
    expect(await page.locator('#result-title').textContent()).toBe('未通过');
    expect(await page.locator('#result-text').textContent()).toBe('检测到更换了人');
    expect(mock.hellos).toHaveLength(0);
  });

  it('bad links and refused challenges get plain messages', async () => {
    const { base, page, mock } = await open({ challengeStatus: 410 });
    await waitState(page, 'error');
    // 410: the session is over; a key kept for it is dropped.
    await page.evaluate((sid) => sessionStorage.setItem(`livegate-key-${sid}`, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), mock.sid);
    await page.reload();
    await waitState(page, 'error');
    expect(await page.evaluate(() => Object.keys(sessionStorage).length)).toBe(0);
    expect(await page.locator('#message-text').textContent()).toContain('已过期');
    await page.goto(`${base}/h5/?sid=nope&t=x&lang=en`);
    await waitState(page, 'error');
    expect(await page.locator('#message-text').textContent()).toContain('The link is wrong');
  });

  it('fits a 320 px wide screen without sideways scrolling', async () => {
    const { page } = await open({ framesPerStep: 1000 }, '', browser, { width: 320, height: 568 });
    await waitState(page, 'consent');
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    const box = await page.locator('#start-button').boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(44);
    await page.click('#start-button');
    await waitState(page, 'streaming');
    await page.waitForFunction(() => document.querySelector('#step-text')?.textContent === '请眨眨眼');
    expect(await overflow()).toBeLessThanOrEqual(0);
    expect(await state(page)).toBe('streaming');
  });
});
