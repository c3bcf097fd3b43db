// The console against the real server (target/release/livegate serve, temp data dir, embedded
// store, free port) in Chromium: served at /admin/ under its CSP, sign in as an administrator made
// by `livegate admin create`, create a scene, run a real session against it with Chromium's fake
// camera on the H5 page (ui/h5's helpers), find its record, open its evidence, see the statistics
// move (live, before any roll-up; and unchanged once an operator runs the roll-up job), switch
// language. A screenshot of each page of the menu goes to test-results/ (server-*.png).
// Skips, saying why, only when the binary, Chromium, ffmpeg or LIVEGATE_TEST_MEDIA is missing:
// every step is required, and a part of the admin API the server lacks fails the test.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { BIN, REPO, createApp, livegateMissing, openApi, startLivegate, type Livegate } from '../../h5/e2e/livegate';
import { hasFfmpeg, mediaDir, tempDir, videoToY4m } from '../../h5/e2e/media';
import { DIST, assertBuilt, chromiumMissing, clearShots, launch, shot, watch } from './browser';
import { CONSOLE_CSP } from './mock-server';

const skip = livegateMissing() ?? chromiumMissing();
if (skip) console.warn(`e2e (real server) skipped: ${skip}`);
const media = mediaDir();
const noSession = 'skip' in media ? media.skip : hasFfmpeg() ? null : 'ffmpeg is not installed';

const ADMIN = { username: 'e2e-admin', password: 'console-e2e-password' };
const SCENE = 'e2e-blink';
/** The H5 page's scene rules that a person blinking passes (as ui/h5/e2e/server.test.ts). */
const RULES = { actions: { pool: ['blink'], count: 1 }, timeouts: { step_s: 10, session_s: 20 } };

describe.skipIf(skip !== null)('the console against livegate serve', () => {
  let tmp: ReturnType<typeof tempDir>;
  let lg: Livegate;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let seen: Awaited<ReturnType<typeof watch>>;
  const bizId = `console-e2e-${Date.now()}-${randomBytes(3).toString('hex')}`;
  /** The summary before the session (the console's default range: the last 7 days). */
  let statsBefore: { total: number; pass: number } | null = null;

  const inp = (name: string) => `input[data-test=${name}], [data-test=${name}] input`;
  const menuItems = () => page.locator('[data-test=menu] > .el-menu-item, [data-test=menu] > .el-sub-menu > .el-sub-menu__title').allInnerTexts();
  const api = (path: string) => page.evaluate(async (p) => {
    const r = await fetch(`/admin/api/v1${p}`, { credentials: 'same-origin' });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, path);
  const statNumber = async (name: string) => Number((await page.locator(`[data-test=stat-${name}]`).innerText()).replace(/\D+/g, ''));

  beforeAll(async () => {
    assertBuilt();
    clearShots('server');
    if (!existsSync(join(REPO, 'ui/h5/dist/index.html'))) throw new Error('ui/h5/dist is missing: build the H5 page (scripts/setup)');
    tmp = tempDir('livegate-console-e2e-');
    lg = await startLivegate(join(tmp.dir, 'data'), { LIVEGATE_SERVER__CONSOLE_DIR: DIST });
    const r = spawnSync(BIN, ['admin', 'create', '--username', ADMIN.username, '--password', ADMIN.password], { cwd: REPO, env: lg.env, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`livegate admin create failed (${r.status}): ${r.stderr}`);
    browser = await launch();
    ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await ctx.newPage();
    seen = await watch(page);
  });

  afterAll(async () => {
    await browser?.close();
    await lg?.stop();
    tmp?.cleanup();
  });

  it('serves the built console at /admin/ with its CSP, client routes and no API shadowing', async () => {
    const index = await fetch(`${lg.base}/admin/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/admin\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      const ar = await fetch(`${lg.base}${a}`);
      expect(ar.status, a).toBe(200);
      expect(ar.headers.get('cache-control'), a).toContain('immutable');
    }
    for (const route of ['/admin/records', '/admin/records/0b5c3e1e-6a4e-4a57-9a0e-2f3a1c1b2d3e', '/admin/system/jobs']) {
      const r = await fetch(`${lg.base}${route}`);
      expect(r.status, route).toBe(200);
      expect(await r.text(), route).toBe(html);
    }
    expect((await fetch(`${lg.base}/admin/assets/missing-00000000.js`)).status).toBe(404);
    // The admin API is still the API's: no session, 401 (not the console's index.html).
    const records = await fetch(`${lg.base}/admin/api/v1/records`);
    expect(records.status).toBe(401);
    expect(records.headers.get('content-type') ?? '').toContain('json');
  });

  it('refuses a wrong password with the server message, then signs in', async () => {
    await page.goto(`${lg.base}/admin/`);
    await page.waitForSelector(inp('username'));
    await page.fill(inp('username'), ADMIN.username);
    await page.fill(inp('password'), 'not-the-password');
    await page.click('[data-test=login-submit]');
    await expect.poll(() => page.locator('[data-test=login-error]').innerText()).not.toBe('');
    await shot(page, 'server', '00-login-refused');
    await page.fill(inp('password'), ADMIN.password);
    await page.click('[data-test=login-submit]');
    await page.waitForURL(/\/admin\/records$/);
    await page.waitForSelector('[data-test=records-table]');
    // Every part of the admin API the console reads answers the administrator.
    for (const path of ['/scenes', '/engines', '/system/properties', '/dict/types', '/jobs', '/stats/summary', '/records', '/audit']) {
      const r = await api(path);
      expect(r.status, `GET /admin/api/v1${path}: ${JSON.stringify(r.body)}`).toBe(200);
    }
    await shot(page, 'server', '01-records');
  });

  it('creates a scene in the console', async () => {
    await page.goto(`${lg.base}/admin/scenes/new`);
    await page.fill(inp('scene-code'), SCENE);
    await page.fill(inp('scene-name'), '控制台 e2e 眨眼');
    await page.locator('[data-test=scene-pool] .el-checkbox', { hasText: '眨眼' }).click();
    // A count above the pool: the server's message is shown at the field.
    await page.fill(inp('scene-count'), '2');
    await page.click('[data-test=scene-save]');
    const countError = page.locator('.el-form-item', { has: page.locator('[data-test=scene-count]') }).locator('.el-form-item__error');
    await expect.poll(() => countError.innerText(), { timeout: 10_000 }).toContain('actions.count');
    await shot(page, 'server', '02-scene-field-error');
    await page.fill(inp('scene-count'), '1');
    await page.fill(inp('scene-step'), String(RULES.timeouts.step_s));
    await page.fill(inp('scene-session'), String(RULES.timeouts.session_s));
    await page.click('[data-test=scene-save]');
    await page.waitForURL(new RegExp(`/admin/scenes/${SCENE}$`));
    const saved = await api(`/scenes/${SCENE}`);
    expect(saved.status).toBe(200);
    expect(saved.body.config).toMatchObject(RULES);
    await shot(page, 'server', '03-scene-saved');
  });

  it.skipIf(noSession !== null)('a real session against the scene shows up in the records with its evidence', async () => {
    await page.goto(`${lg.base}/admin/stats`);
    await page.waitForSelector('[data-test=stat-total]');
    const before = await api('/stats/summary');
    expect(before.status).toBe(200);
    statsBefore = { total: before.body.total, pass: before.body.pass };
    const dir = 'dir' in media ? media.dir : '';
    const clip = videoToY4m(join(dir, 'Blink-Detector_repeating/video.mp4'), join(tmp.dir, 'blinker.y4m'));
    const app = createApp(lg, 'console-e2e');
    const created = await openApi(lg.base, app, 'POST', '/open/v1/sessions', { scene: SCENE, biz_id: bizId });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const camera = await launch({ clip });
    try {
      const h5 = await (await camera.newContext({ viewport: { width: 390, height: 844 } })).newPage();
      await h5.goto(created.json.h5_url);
      await h5.click('#start-button');
      await h5.waitForSelector('body[data-state="passed"], body[data-state="failed"], body[data-state="error"]', { timeout: 100_000 });
      expect(await h5.locator('body').getAttribute('data-state'), await h5.locator('#result-text').textContent() ?? '').toBe('passed');
    } finally {
      await camera.close();
    }
    // The record, found by its business id.
    await page.goto(`${lg.base}/admin/records`);
    await page.fill(inp('filter-biz-id'), bizId);
    await page.click('[data-test=search]');
    await expect.poll(() => page.locator('[data-test=records-table] .el-table__row').count(), { timeout: 15_000 }).toBe(1);
    const row = await page.locator('[data-test=records-table] .el-table__row').innerText();
    expect(row).toContain(bizId);
    expect(row).toContain('通过');
    await shot(page, 'server', '04-records-found');
    // The export of what the list shows: a CSV the browser saves, with the record in it.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=export-csv]')]);
    expect(readFileSync((await download.path())!, 'utf8')).toContain(bizId);
    await page.click('[data-test=record-detail]');
    await page.waitForURL(/\/admin\/records\/[0-9a-f-]{36}$/);
    await page.waitForSelector('[data-test=record-summary]');
    // Verdict and status with the server's dictionary labels (record_status: finished).
    await expect.poll(() => page.locator('[data-test=record-summary]').innerText()).toContain('已完成');
    expect(await page.locator('[data-test=record-summary]').innerText()).toContain('通过');
    // Evidence frames are images the browser decoded (served by the API under the console's CSP).
    await page.waitForSelector('[data-test=evidence] img', { timeout: 15_000 });
    await expect
      .poll(() => page.locator('[data-test=evidence] img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth)), { timeout: 15_000 })
      .toSatisfy((w: number[]) => w.length >= 1 && w.every((x) => x > 0));
    // The challenge's action by its dictionary label (the server's `label_zh`).
    expect(await page.locator('[data-test=timeline]').innerText()).toContain('动作 · 眨眼');
    await shot(page, 'server', '05-record-detail');
  });

  it.skipIf(noSession !== null)('the statistics count the session at once, and the roll-up job keeps the count', async () => {
    expect(statsBefore, 'the session step read the statistics first').not.toBeNull();
    const before = statsBefore!;
    // Live: the current hour is read from the records, so no roll-up has to run first.
    await page.goto(`${lg.base}/admin/stats`);
    await page.waitForSelector('[data-test=chart-trend] canvas');
    await expect.poll(() => statNumber('total'), { timeout: 15_000 }).toBe(before.total + 1);
    expect(await statNumber('pass')).toBe(before.pass + 1);
    await page.waitForTimeout(1500); // the charts' drawing animation
    await shot(page, 'server', '06-stats');
    // An operator runs the roll-up now from the jobs page: it ends ok and the count holds (the
    // rolled hours and the live ones neither lose nor count the session twice).
    await page.goto(`${lg.base}/admin/system/jobs`);
    await page.waitForSelector('[data-test=jobs-table] .el-table__row');
    expect(await page.locator('[data-test=jobs-table]').innerText()).toContain('统计汇总');
    const runsBefore = (await api('/jobs/stats_rollup/runs')).body.total as number;
    await page.click('[data-test=run-stats_rollup]');
    await expect
      .poll(async () => (await api('/jobs/stats_rollup/runs')).body.items[0], { timeout: 30_000 })
      .toMatchObject({ trigger: 'manual', requested_by: ADMIN.username, status: 'ok' });
    expect((await api('/jobs/stats_rollup/runs')).body.total).toBe(runsBefore + 1);
    await shot(page, 'server', '07-jobs-rollup-run');
    await page.goto(`${lg.base}/admin/stats`);
    await page.waitForSelector('[data-test=chart-trend] canvas');
    await expect.poll(() => statNumber('total'), { timeout: 15_000 }).toBe(before.total + 1);
    expect(await statNumber('pass')).toBe(before.pass + 1);
    const series = await api('/stats/series?bucket=hour');
    expect(series.status).toBe(200);
    expect((series.body.series as { total: number[] }[]).flatMap((l) => l.total).reduce((a, b) => a + b, 0)).toBe(before.total + 1);
  });

  it('every page of the menu renders over the real API, with a screenshot each', async () => {
    // The pages are the menu's own entries, opened by clicking them as an operator would.
    await page.goto(`${lg.base}/admin/records`);
    await page.waitForSelector('[data-test=menu]');
    for (const title of await page.locator('[data-test=menu] .el-sub-menu__title').all()) await title.click();
    const paths = await page.locator('[data-test=menu] [data-menu]').evaluateAll((items) => items.map((i) => i.getAttribute('data-menu')!));
    expect(paths).toEqual(['/records', '/stats', '/scenes', '/fallback', '/engines', '/system/users', '/system/roles', '/system/tenants', '/system/apps', '/system/properties', '/system/dict', '/system/jobs', '/system/audit']);
    // What each page must show from the real API (a table row, a card: not just its frame).
    const shows: Record<string, string> = {
      '/records': '[data-test=records-table] .el-table__row',
      '/stats': '[data-test=chart-trend] canvas',
      '/scenes': `text=${SCENE}`,
      '/engines': '[data-test=engines-table] .el-table__row',
      '/system/users': '[data-test=users-table] .el-table__row',
      '/system/properties': '[data-test=properties-table] .el-table__row',
      '/system/dict': '[data-test=dict-data] .el-table__row',
      '/system/jobs': '[data-test=jobs-table] .el-table__row',
      '/system/audit': '[data-test=audit-table] .el-table__row',
    };
    for (const [i, path] of paths.entries()) {
      await page.locator(`[data-test=menu] [data-menu="${path}"]`).click();
      await page.waitForURL(new RegExp(`/admin${path}$`));
      await page.waitForSelector('.main .page', { timeout: 15_000 });
      if (shows[path]) await page.waitForSelector(shows[path]!, { timeout: 15_000 });
      await page.waitForLoadState('networkidle');
      if (path === '/stats') await page.waitForTimeout(1500); // the charts' drawing animation
      await shot(page, 'server', `${String(i + 8).padStart(2, '0')}-${path.slice(1).replace(/\//g, '-')}`);
    }
    // The dictionary shows the server's labels (label_zh), not blank cells.
    await page.locator('[data-test=menu] [data-menu="/system/dict"]').click();
    await page.locator('[data-test=dict-types] .el-table__row', { hasText: 'action' }).click();
    await expect.poll(() => page.locator('[data-test=dict-data]').innerText()).toContain('眨眼');
    // The scenes list reads the server's summaries: the new scene, action liveness, enabled;
    // the apps list shows the test's app enabled (status "active").
    await page.locator('[data-test=menu] [data-menu="/scenes"]').click();
    const sceneRow = page.locator('[data-test=scenes-table] .el-table__row', { hasText: SCENE });
    await expect.poll(() => sceneRow.innerText()).toContain('动作活体');
    expect(await sceneRow.innerText()).toContain('已启用');
    await page.locator('[data-test=menu] [data-menu="/system/apps"]').click();
    const appRow = page.locator('[data-test=apps-table] .el-table__row', { hasText: 'console-e2e' });
    await expect.poll(() => appRow.innerText()).toContain('已启用');
    // The engines: both built-ins healthy, with the pool's latency of the session's frames.
    await page.locator('[data-test=menu] [data-menu="/engines"]').click();
    await expect.poll(() => page.locator('[data-test=engines-table]').innerText()).toContain('livegate');
    const engines = await page.locator('[data-test=engines-table]').innerText();
    expect(engines).toContain('dlib');
    expect(engines).toContain('ok');
    if (noSession === null) expect(engines).toMatch(/\d+ ms/);
    // The properties show their names and kinds.
    await page.locator('[data-test=menu] [data-menu="/system/properties"]').click();
    await expect.poll(() => page.locator('[data-test=properties-table]').innerText()).toContain('duration_s');
    // What the real API holds shows: the administrator in users, the sign-in in the audit log.
    await page.goto(`${lg.base}/admin/system/users`);
    await expect.poll(() => page.locator('[data-test=users-table]').innerText()).toContain(ADMIN.username);
    await page.goto(`${lg.base}/admin/system/audit`);
    await expect.poll(() => page.locator('[data-test=audit-table]').innerText()).toContain('auth.login');
    expect(seen).toEqual({ csp: [], errors: [] });
  });

  it('switches to English', async () => {
    await page.goto(`${lg.base}/admin/records`);
    await page.waitForSelector('[data-test=records-table]');
    await page.click('[data-test=lang-switch]');
    await page.locator('.el-select-dropdown__item', { hasText: 'English' }).click();
    await expect.poll(() => menuItems()).toEqual(['Records', 'Statistics', 'Scenes', 'Fallback', 'Engines', 'System']);
    await page.waitForSelector('[data-test=records-table] .el-table__row');
    // Before the switch this page read 记录/结果/通过; now its headers and the session's verdict
    // are English, and no Chinese is left in the menu or the table's head.
    expect(await page.locator('[data-test=records-table] thead').innerText()).toContain('Verdict');
    expect(await page.locator('[data-test=records-table] thead').innerText()).not.toMatch(/[\u4e00-\u9fff]/);
    expect(await page.locator('[data-test=menu]').innerText()).not.toMatch(/[\u4e00-\u9fff]/);
    const row = page.locator('[data-test=records-table] .el-table__row', { hasText: bizId });
    if (noSession === null) await expect.poll(() => row.innerText()).toContain('Pass');
    await shot(page, 'server', '21-records-en');
    // Another page keeps the language: the statistics' cards are English.
    await page.locator('[data-test=menu] [data-menu="/stats"]').click();
    await page.waitForSelector('[data-test=stats-cards]');
    await expect.poll(() => page.locator('[data-test=stats-cards]').innerText()).toContain('Calls');
    expect(await page.locator('[data-test=stats-cards]').innerText()).toContain('Pass rate');
    // Signed out, a wrong password is refused in English.
    await page.click('[data-test=user-menu]');
    await page.locator('[data-test=logout]').click();
    await page.waitForURL(/\/admin\/login/);
    await page.fill(inp('username'), ADMIN.username);
    await page.fill(inp('password'), 'not-the-password');
    await page.click('[data-test=login-submit]');
    await expect.poll(() => page.locator('[data-test=login-error]').innerText()).toMatch(/[a-z]/);
    expect(await page.locator('[data-test=login-error]').innerText()).not.toMatch(/[\u4e00-\u9fff]/);
    await shot(page, 'server', '22-login-en');
    expect(seen).toEqual({ csp: [], errors: [] });
  });
});
