// The built console in Chromium over the in-memory admin API (mock/api.ts), under the server's
// CSP: every page renders, the forms show the server's messages at their fields, permissions
// hide what a user may not do, a lost session goes back to the login page once, and the language
// switches. A screenshot of each page is kept in test-results/ (mock-*.png). The same console
// against the real server: server.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { assertBuilt, chromiumMissing, clearShots, launch, shot, watch } from './browser';
import { startMock } from './mock-server';

const skip = chromiumMissing();
if (skip) console.warn(`e2e (mock API) skipped: ${skip}`);

describe.skipIf(skip !== null)('the console over the mock admin API', () => {
  let mock: Awaited<ReturnType<typeof startMock>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    assertBuilt();
    clearShots('mock');
    mock = await startMock();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await mock?.close();
  });

  async function open(lang?: 'en') {
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const seen = await watch(page);
    if (lang) await page.addInitScript(() => localStorage.setItem('livegate-console-lang', 'en'));
    return { page, seen };
  }
  async function login(page: Page, username: string, password: string) {
    await page.goto(`${mock.base}/admin/`);
    await page.waitForSelector(inp('username'));
    await page.fill(inp('username'), username);
    await page.fill(inp('password'), password);
    await page.click('[data-test=login-submit]');
  }
  /** An Element Plus input by its data-test (el-input puts the attribute on the <input> itself). */
const inp = (name: string) => `input[data-test=${name}], [data-test=${name}] input`;
const menuItems = (page: Page) => page.locator('[data-test=menu] > .el-menu-item, [data-test=menu] > .el-sub-menu > .el-sub-menu__title').allInnerTexts();

  it('refuses a wrong password with the server message, then signs in to the records', async () => {
    const { page, seen } = await open();
    await login(page, 'admin', 'wrong-password');
    await expect.poll(() => page.locator('[data-test=login-error]').innerText()).toContain('用户名或密码错误');
    await shot(page, 'mock', '00-login');
    await page.fill(inp('password'), 'admin-password');
    await page.click('[data-test=login-submit]');
    await page.waitForURL(/\/admin\/records$/);
    await page.waitForSelector('[data-test=records-table] .el-table__row');
    expect(await page.locator('[data-test=records-table] .el-table__row').count()).toBe(20);
    expect(await page.locator('.el-pagination__total').innerText()).toContain('45');
    // Reason codes are shown with their dictionary labels.
    expect(await page.locator('[data-test=records-table]').innerText()).toContain('人脸比对不一致');
    await shot(page, 'mock', '01-records');
    expect(seen).toEqual({ csp: [], errors: [] });
  });

  it('renders every page of the menu under the CSP, with a screenshot each', async () => {
    const { page, seen } = await open();
    await login(page, 'admin', 'admin-password');
    await page.waitForURL(/records$/);
    expect(await menuItems(page)).toEqual(['识别记录', '调用统计', '场景配置', '降级管理', '引擎管理', '系统管理']);
    const pages: [string, string][] = [
      ['stats', '[data-test=chart-trend] canvas'],
      ['scenes', '[data-test=scenes-table] .el-table__row'],
      ['scenes/open-account', '[data-test=scene-form]'],
      ['fallback', '[data-test=fallback-form]'],
      ['engines', '[data-test=engines-table] .el-table__row'],
      ['system/users', '[data-test=users-table] .el-table__row'],
      ['system/roles', '[data-test=roles-table] .el-table__row'],
      ['system/tenants', '[data-test=tenants-table] .el-table__row'],
      ['system/apps', '[data-test=apps-table] .el-table__row'],
      ['system/properties', '[data-test=properties-table] .el-table__row'],
      ['system/dict', '[data-test=dict-data] .el-table__row'],
      ['system/jobs', '[data-test=jobs-table] .el-table__row'],
      ['system/audit', '[data-test=audit-table] .el-table__row'],
    ];
    for (const [i, [path, ready]] of pages.entries()) {
      await page.goto(`${mock.base}/admin/${path}`);
      await page.waitForSelector(ready, { timeout: 15_000 });
      await page.waitForTimeout(path === 'stats' ? 1500 : 300); // the charts' drawing animation
      await shot(page, 'mock', `${String(i + 2).padStart(2, '0')}-${path.replace(/\//g, '-')}`);
    }
    expect(seen).toEqual({ csp: [], errors: [] });
  });

  it('opens a record: evidence frames as images, timeline, scores and callbacks', async () => {
    const { page, seen } = await open();
    await login(page, 'admin', 'admin-password');
    await page.waitForSelector('[data-test=records-table] .el-table__row');
    await page.fill(inp('filter-biz-id'), 'biz-1005');
    await page.click('[data-test=search]');
    await expect.poll(() => page.locator('[data-test=records-table] .el-table__row').count()).toBe(1);
    await page.click('[data-test=record-detail]');
    await page.waitForURL(/\/admin\/records\/[0-9a-f-]{36}$/);
    await page.waitForSelector('[data-test=evidence] img');
    await expect.poll(() => page.locator('[data-test=evidence] img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth))).toEqual([60, 60, 60]);
    expect(await page.locator('[data-test=timeline]').innerText()).toContain('眨眼');
    expect(await page.locator('[data-test=scores]').innerText()).toContain('liveness');
    expect(await page.locator('[data-test=callbacks]').innerText()).toContain('delivered');
    expect(await page.locator('[data-test=record-summary]').innerText()).toContain('未通过');
    await shot(page, 'mock', '15-record-detail');
    expect(seen).toEqual({ csp: [], errors: [] });
  });

  it("creates a scene: the server's message is shown at the field, then the scene is saved", async () => {
    const { page, seen } = await open();
    await login(page, 'admin', 'admin-password');
    await page.waitForURL(/records$/);
    await page.goto(`${mock.base}/admin/scenes`);
    await page.click('[data-test=scene-create]');
    await page.waitForURL(/scenes\/new$/);
    await page.fill(inp('scene-code'), 'e2e-blink');
    await page.fill(inp('scene-name'), '眨眼测试');
    await page.locator('[data-test=scene-pool] .el-checkbox', { hasText: '眨眼' }).click();
    await page.fill(inp('scene-count'), '3');
    await page.click('[data-test=scene-save]');
    const fieldError = page.locator('.el-form-item', { has: page.locator('[data-test=scene-count]') }).locator('.el-form-item__error');
    await expect.poll(() => fieldError.innerText()).toContain('actions.count');
    expect(await fieldError.innerText()).toContain('必须在 1 到 1 之间');
    await shot(page, 'mock', '16-scene-field-error');
    await page.fill(inp('scene-count'), '1');
    await page.click('[data-test=scene-save]');
    await page.waitForURL(/scenes\/e2e-blink$/);
    expect(mock.state.scenes.find((s) => s.code === 'e2e-blink')?.config).toEqual({ actions: { pool: ['blink'], count: 1 } });
    expect(seen).toEqual({ csp: [], errors: [] });
  });

  it("shows a new app's secret once, in its dialog", async () => {
    const { page } = await open();
    await login(page, 'admin', 'admin-password');
    await page.waitForURL(/records$/);
    await page.goto(`${mock.base}/admin/system/apps`);
    await page.click('[data-test=app-create]');
    await page.fill(inp('app-name'), '柜面系统');
    await page.click('[data-test=app-save]');
    const secret = page.locator('[data-test=app-secret]');
    await expect.poll(() => secret.innerText()).toMatch(/^[0-9a-f]{32}$/);
    await shot(page, 'mock', '17-app-secret');
    await page.locator('.el-dialog__footer button', { hasText: '确定' }).last().click();
    await expect.poll(() => page.locator('[data-test=app-secret]').count()).toBe(0);
    expect(await page.locator('[data-test=apps-table]').innerText()).toContain('柜面系统');
  });

  it('an auditor sees only their pages and no buttons that write', async () => {
    const { page } = await open();
    await login(page, 'auditor', 'auditor-password');
    await page.waitForURL(/records$/);
    await page.waitForSelector('[data-test=records-table] .el-table__row');
    expect(await menuItems(page)).toEqual(['识别记录', '调用统计', '系统管理']);
    expect(await page.locator('[data-test=export-csv]').count()).toBe(0);
    await page.goto(`${mock.base}/admin/scenes`);
    await page.waitForSelector('.el-result');
    expect(await page.locator('.el-result').innerText()).toContain('403');
    await shot(page, 'mock', '18-auditor-403');
  });

  it('a lost session goes back to the login page once, and returns there after signing in', async () => {
    const { page, seen } = await open();
    await login(page, 'admin', 'admin-password');
    await page.waitForURL(/records$/);
    await page.goto(`${mock.base}/admin/stats`);
    await page.waitForSelector('[data-test=chart-trend] canvas');
    const logins: string[] = [];
    page.on('request', (r) => {
      if (r.resourceType() === 'document' && r.url().includes('/admin/login')) logins.push(r.url());
    });
    mock.state.sessions.clear();
    // Three requests fail with 401 at once (summary, series, reasons): one trip to the login page.
    await page.click('form button[type=submit]');
    await page.waitForURL(/\/admin\/login\?redirect=/);
    await page.waitForTimeout(500);
    expect(logins.length).toBe(1);
    expect(decodeURIComponent(logins[0]!)).toContain('redirect=/admin/stats');
    await page.fill(inp('username'), 'admin');
    await page.fill(inp('password'), 'admin-password');
    await page.click('[data-test=login-submit]');
    await page.waitForURL(/\/admin\/stats$/);
    expect(seen.csp).toEqual([]);
  });

  it('switches to English: menu, Element Plus and the server messages', async () => {
    const { page, seen } = await open();
    await login(page, 'admin', 'admin-password');
    await page.waitForURL(/records$/);
    await page.waitForSelector('[data-test=records-table] .el-table__row');
    await page.click('[data-test=lang-switch]');
    await page.locator('.el-select-dropdown__item', { hasText: 'English' }).click();
    await expect.poll(() => menuItems(page)).toEqual(['Records', 'Statistics', 'Scenes', 'Fallback', 'Engines', 'System']);
    expect(await page.locator('.el-pagination__total').innerText()).toMatch(/Total 45/);
    expect(await page.locator('[data-test=records-table]').innerText()).toContain('Face mismatch');
    await shot(page, 'mock', '19-records-en');
    // A server error in English.
    await page.goto(`${mock.base}/admin/scenes/open-account`);
    await page.waitForSelector('[data-test=scene-form]');
    await page.fill(inp('scene-step'), '99');
    await page.click('[data-test=scene-save]');
    const fieldError = page.locator('.el-form-item', { has: page.locator('[data-test=scene-step]') }).locator('.el-form-item__error');
    await expect.poll(() => fieldError.innerText()).toBe('validation failed: timeouts.step_s: must be between 3 and 60 (got 99)');
    await shot(page, 'mock', '20-scene-error-en');
    // The choice is kept for the next visit.
    await page.reload();
    await expect.poll(() => menuItems(page)).toContain('Scenes');
    expect(seen).toEqual({ csp: [], errors: [] });
  });
});
