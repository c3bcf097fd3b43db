// The one HTTP client of the console (docs/admin-api.md): JSON in and out, the session cookie,
// the X-CSRF-Token header on every write, the one error shape unwrapped into ApiError, and a 401
// handled once (the session is gone: back to the login page) however many requests fail with it.

export type Lang = 'zh-CN' | 'en';

/**
 * The one error body of the server (src/error.rs ErrorBody, docs/admin-api.md): `message` in
 * Chinese, `message_en`, and the field and its reason in `detail` (`reason_zh` where there is one).
 */
export interface ErrorBody {
  code: string;
  message: string;
  message_en: string;
  detail?: { field?: string; reason?: string; reason_zh?: string; [k: string]: unknown } | null;
}

/** A failed request: the server's error, or a network / unexpected answer in the same shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly messageEn: string,
    readonly messageZh: string,
    readonly field?: string,
    readonly detail?: unknown,
  ) {
    super(messageEn);
    this.name = 'ApiError';
  }

  /** The message in the console's language. */
  text(lang: Lang): string {
    return lang === 'zh-CN' ? this.messageZh || this.messageEn : this.messageEn || this.messageZh;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined | Array<string | number>>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** don't show the message (the caller shows it, e.g. at a form field) */
  quiet?: boolean;
  /** don't add the selected tenant to the query */
  noTenant?: boolean;
  /** a 401 here is the caller's to handle (the router's guard asking who is signed in) */
  noAuthRedirect?: boolean;
}

export interface HttpHooks {
  /** the API's root, e.g. `/admin/api/v1` */
  base: string;
  lang(): Lang;
  csrf(): string | null;
  /** the tenant chosen in the switcher, added to GET queries (list calls narrow to it) */
  tenant?(): string | null;
  /** the session is gone (called once until `resetUnauthorized`) */
  onUnauthorized(): void;
  /** shows an error message (not called for 401 or quiet requests) */
  onError?(message: string, err: ApiError): void;
  fetch?: typeof fetch;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Builds `path?query`, leaving out empty values; arrays repeat the key. */
export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => params.append(k, String(x)));
    else params.append(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

function networkError(status: number, cause: string): ApiError {
  return status === 0
    ? new ApiError(0, 'NETWORK', `network error: ${cause}`, `网络错误：${cause}`)
    : new ApiError(status, 'HTTP_' + status, `unexpected answer (HTTP ${status})`, `服务返回异常（HTTP ${status}）`);
}

/** Turns an error answer into an ApiError, whatever its body. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: a proxy's page */
  }
  const s = body as ErrorBody | null;
  if (s && typeof s.code === 'string' && typeof s.message === 'string') {
    const d = s.detail && typeof s.detail === 'object' ? s.detail : undefined;
    const reason = typeof d?.reason === 'string' ? d.reason : undefined;
    const reasonZh = typeof d?.reason_zh === 'string' ? d.reason_zh : reason;
    const field = typeof d?.field === 'string' ? d.field : undefined;
    const en = s.message_en ?? s.message;
    const withField = (r: string) => (field && !r.startsWith(field) ? `${field}: ${r}` : r);
    return new ApiError(
      res.status,
      s.code,
      reason ? `${en}: ${withField(reason)}` : en,
      reasonZh ? `${s.message}：${withField(reasonZh)}` : s.message,
      field,
      s.detail ?? undefined,
    );
  }
  return networkError(res.status, res.statusText);
}

export interface Http {
  request<T>(method: string, path: string, o?: RequestOptions): Promise<T>;
  get<T>(path: string, query?: Query, o?: RequestOptions): Promise<T>;
  post<T>(path: string, body?: unknown, o?: RequestOptions): Promise<T>;
  put<T>(path: string, body?: unknown, o?: RequestOptions): Promise<T>;
  del<T = void>(path: string, o?: RequestOptions): Promise<T>;
  /** a GET whose answer is a file (exports): the blob and its file name */
  download(path: string, query?: Query): Promise<{ blob: Blob; filename: string }>;
  /** after a new login: the next 401 is handled again */
  resetUnauthorized(): void;
}

export function createHttp(hooks: HttpHooks): Http {
  let unauthorizedHandled = false;
  const doFetch = hooks.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));

  async function send(method: string, path: string, o: RequestOptions, accept: string): Promise<Response> {
    let query = o.query;
    const tenant = hooks.tenant?.();
    if (method === 'GET' && tenant && !o.noTenant && !(query && 'tenant' in query)) query = { ...query, tenant };
    const headers: Record<string, string> = { Accept: accept };
    if (o.body !== undefined) headers['Content-Type'] = 'application/json';
    if (WRITES.has(method)) {
      const token = hooks.csrf();
      if (token) headers['X-CSRF-Token'] = token;
    }
    let res: Response;
    try {
      res = await doFetch(hooks.base + withQuery(path, query), {
        method,
        headers,
        credentials: 'same-origin',
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
      });
    } catch (err) {
      const e = networkError(0, err instanceof Error ? err.message : String(err));
      if (!o.quiet) hooks.onError?.(e.text(hooks.lang()), e);
      throw e;
    }
    if (res.ok) return res;
    const e = await toApiError(res);
    if (res.status === 401 && path !== '/auth/login') {
      if (!unauthorizedHandled && !o.noAuthRedirect) {
        unauthorizedHandled = true;
        hooks.onUnauthorized();
      }
    } else if (!o.quiet) {
      hooks.onError?.(e.text(hooks.lang()), e);
    }
    throw e;
  }

  async function request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await send(method, path, o, 'application/json');
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  return {
    request,
    get: (path, query, o) => request('GET', path, { ...o, query }),
    post: (path, body, o) => request('POST', path, { ...o, body }),
    put: (path, body, o) => request('PUT', path, { ...o, body }),
    del: (path, o) => request('DELETE', path, o),
    async download(path, query) {
      const res = await send('GET', path, { query }, '*/*');
      const cd = res.headers.get('content-disposition') ?? '';
      const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
      return { blob: await res.blob(), filename: m?.[1] ? decodeURIComponent(m[1]) : 'export' };
    },
    resetUnauthorized() {
      unauthorizedHandled = false;
    },
  };
}

/** The API's list answer. */
export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}
