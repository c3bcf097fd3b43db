// The one HTTP client: CSRF header on writes only, the error shape unwrapped with the message in
// the console's language, and a 401 handled once however many requests fail with it.
import { describe, expect, it, vi } from 'vitest';
import { ApiError, createHttp, withQuery, type HttpHooks, type Lang } from '../src/utils/http';

type Call = { url: string; init: RequestInit };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function setup(answer: (c: Call) => Response | Promise<Response>, o: Partial<HttpHooks> & { lang?: Lang } = {}) {
  const calls: Call[] = [];
  const onUnauthorized = vi.fn();
  const onError = vi.fn();
  let lang: Lang = o.lang ?? 'zh-CN';
  const http = createHttp({
    base: '/admin/api/v1',
    lang: () => lang,
    csrf: () => 'tok-123',
    onUnauthorized,
    onError,
    ...o,
    fetch: (async (url: string, init: RequestInit) => {
      const c = { url, init };
      calls.push(c);
      return answer(c);
    }) as unknown as typeof fetch,
  });
  return { http, calls, onUnauthorized, onError, setLang: (l: Lang) => (lang = l) };
}

const header = (c: Call, name: string) => (c.init.headers as Record<string, string>)[name];

/** The server's error body (src/error.rs): a field's rule broken. */
const invalid = {
  code: 'VALIDATION_FAILED',
  message: '请求参数校验失败',
  message_en: 'the request failed validation',
  detail: { field: 'actions.count', reason: 'must be between 1 and 6 (got 9)', reason_zh: '必须在 1 到 6 之间（实际 9）' },
};
const error = (code: string, message: string, message_en: string) => ({ code, message, message_en });

describe('http client', () => {
  it('sends the CSRF token on every write and never on a read', async () => {
    const { http, calls } = setup(() => json(200, { ok: true }));
    await http.get('/records', { verdict: 'pass' });
    await http.post('/scenes', { code: 'x' });
    await http.put('/scenes/x', { version: 1 });
    await http.del('/dict/types/x');
    await http.request('PATCH', '/x');
    expect(calls.map((c) => [c.init.method, header(c, 'X-CSRF-Token') ?? null])).toEqual([
      ['GET', null],
      ['POST', 'tok-123'],
      ['PUT', 'tok-123'],
      ['DELETE', 'tok-123'],
      ['PATCH', 'tok-123'],
    ]);
    expect(calls[0]!.url).toBe('/admin/api/v1/records?verdict=pass');
    expect(calls[1]!.init.body).toBe('{"code":"x"}');
    expect(header(calls[1]!, 'Content-Type')).toBe('application/json');
    expect(calls[1]!.init.credentials).toBe('same-origin');
  });

  it('sends no CSRF header when there is no session token yet (login)', async () => {
    const { http, calls } = setup(() => json(200, {}), { csrf: () => null });
    await http.post('/auth/login', { username: 'a', password: 'b' });
    expect(header(calls[0]!, 'X-CSRF-Token')).toBeUndefined();
  });

  it('unwraps the error shape into ApiError with the field, and shows the message in Chinese', async () => {
    const { http, onError } = setup(() => json(422, invalid));
    const e = await http.post('/scenes', {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    expect([err.status, err.code, err.field]).toEqual([422, 'VALIDATION_FAILED', 'actions.count']);
    expect(err.text('zh-CN')).toBe('请求参数校验失败：actions.count: 必须在 1 到 6 之间（实际 9）');
    expect(err.text('en')).toBe('the request failed validation: actions.count: must be between 1 and 6 (got 9)');
    expect(onError).toHaveBeenCalledWith('请求参数校验失败：actions.count: 必须在 1 到 6 之间（实际 9）', err);
  });

  it('shows the English message when the console is in English', async () => {
    const { http, onError, setLang } = setup(() => json(403, error('FORBIDDEN', '无权访问', 'access is not allowed')));
    setLang('en');
    await expect(http.get('/audit')).rejects.toThrow('access is not allowed');
    expect(onError).toHaveBeenLastCalledWith('access is not allowed', expect.any(ApiError));
    setLang('zh-CN');
    await http.get('/audit').catch(() => {});
    expect(onError).toHaveBeenLastCalledWith('无权访问', expect.any(ApiError));
  });

  it('leaves the message to the caller for quiet requests', async () => {
    const { http, onError } = setup(() => json(422, invalid));
    await expect(http.post('/scenes', {}, { quiet: true })).rejects.toBeInstanceOf(ApiError);
    expect(onError).not.toHaveBeenCalled();
  });

  it('turns a non-JSON failure and a network failure into messages in both languages', async () => {
    const bad = setup(() => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const e = (await bad.http.get('/records').catch((x: unknown) => x)) as ApiError;
    expect([e.status, e.text('en'), e.text('zh-CN')]).toEqual([502, 'unexpected answer (HTTP 502)', '服务返回异常（HTTP 502）']);
    const down = setup(() => {
      throw new TypeError('Failed to fetch');
    });
    const n = (await down.http.get('/records').catch((x: unknown) => x)) as ApiError;
    expect([n.status, n.code, n.text('zh-CN')]).toEqual([0, 'NETWORK', '网络错误：Failed to fetch']);
  });

  it('handles a 401 once however many requests fail, and again after a new login', async () => {
    const { http, onUnauthorized, onError } = setup(() => json(401, error('UNAUTHORIZED', '未认证或认证已失效', 'not authenticated or the credentials have expired')));
    const all = await Promise.allSettled([http.get('/records'), http.get('/stats/summary'), http.get('/scenes')]);
    expect(all.every((r) => r.status === 'rejected' && (r.reason as ApiError).status === 401)).toBe(true);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(onError).not.toHaveBeenCalled();
    await http.get('/records').catch(() => {});
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    http.resetUnauthorized();
    await http.get('/records').catch(() => {});
    expect(onUnauthorized).toHaveBeenCalledTimes(2);
  });

  it('a wrong password at login is not a lost session', async () => {
    const { http, onUnauthorized } = setup(() => json(401, error('UNAUTHORIZED', '未认证或认证已失效', 'not authenticated or the credentials have expired')));
    const e = (await http.post('/auth/login', {}, { quiet: true }).catch((x: unknown) => x)) as ApiError;
    expect(e.text('zh-CN')).toBe('未认证或认证已失效');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('adds the chosen tenant to reads only, unless told not to', async () => {
    const { http, calls } = setup(() => json(200, {}), { tenant: () => 't-1' });
    await http.get('/records', { limit: 20 });
    await http.get('/tenants', undefined, { noTenant: true });
    await http.post('/scenes', {});
    expect(calls.map((c) => c.url)).toEqual(['/admin/api/v1/records?limit=20&tenant=t-1', '/admin/api/v1/tenants', '/admin/api/v1/scenes']);
  });

  it('answers 204 with nothing and downloads a file with its name', async () => {
    const { http } = setup((c) =>
      c.url.includes('export')
        ? new Response('id,verdict\n', { status: 200, headers: { 'Content-Disposition': 'attachment; filename="records.csv"' } })
        : new Response(null, { status: 204 }),
    );
    expect(await http.post('/auth/logout')).toBeUndefined();
    const f = await http.download('/records/export', { format: 'csv' });
    expect(f.filename).toBe('records.csv');
    expect(await f.blob.text()).toBe('id,verdict\n');
  });

  it('builds queries without empty values and repeats arrays', () => {
    expect(withQuery('/r', { a: '', b: undefined, c: null, d: 0, e: ['x', 'y'], f: 'a b&c' })).toBe('/r?d=0&e=x&e=y&f=a+b%26c');
    expect(withQuery('/r', {})).toBe('/r');
  });
});

describe("the server's own error body (src/error.rs)", () => {
  it('reads message (Chinese), message_en and the field from detail, in both languages', async () => {
    const body = { code: 'VALIDATION_FAILED', message: '请求参数校验失败', message_en: 'validation failed', detail: { field: 'actions.count', reason: 'must be between 1 and 6 (got 9)' } };
    const { http, onError, setLang } = setup(() => json(422, body));
    const e = (await http.post('/scenes', {}).catch((x: unknown) => x)) as ApiError;
    expect([e.status, e.code, e.field]).toEqual([422, 'VALIDATION_FAILED', 'actions.count']);
    expect(e.text('en')).toBe('validation failed: actions.count: must be between 1 and 6 (got 9)');
    expect(e.text('zh-CN')).toBe('请求参数校验失败：actions.count: must be between 1 and 6 (got 9)');
    expect(onError).toHaveBeenLastCalledWith(e.text('zh-CN'), e);
    setLang('en');
    await http.post('/scenes', {}).catch(() => {});
    expect(onError).toHaveBeenLastCalledWith('validation failed: actions.count: must be between 1 and 6 (got 9)', expect.any(ApiError));
  });

  it('uses reason_zh in Chinese when the server gives one', async () => {
    const body = { code: 'FORBIDDEN', message: '没有权限', message_en: 'forbidden', detail: { field: 'scene', reason: 'the scene is disabled', reason_zh: '场景已停用' } };
    const { http } = setup(() => json(403, body));
    const e = (await http.get('/x').catch((x: unknown) => x)) as ApiError;
    expect(e.text('zh-CN')).toBe('没有权限：scene: 场景已停用');
    expect(e.text('en')).toBe('forbidden: scene: the scene is disabled');
  });

  it('a plain code has just its message', async () => {
    const { http } = setup(() => json(404, { code: 'NOT_FOUND', message: '资源不存在', message_en: 'not found', detail: { path: '/admin/api/v1/x' } }));
    const e = (await http.get('/x').catch((x: unknown) => x)) as ApiError;
    expect([e.text('zh-CN'), e.text('en'), e.field]).toEqual(['资源不存在', 'not found', undefined]);
  });
});
