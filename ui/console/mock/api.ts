// An in-memory admin API (docs/admin-api.md) for `npm run dev:mock` and the mock e2e tests, while
// the real one is built. It keeps the real contract's rules that the console depends on: the
// session cookie, the CSRF header on writes, the error shape with both languages and a field,
// 401/403, lists as {items,total,offset,limit}. It is not the server: the real-server e2e test
// (e2e/server.test.ts) is the one that proves the console against `livegate serve`.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Next = (err?: unknown) => void;

const ALL_PERMS = [
  'scenes:read', 'scenes:write', 'engines:read', 'records:read', 'records:export', 'evidence:read', 'stats:read',
  'apps:read', 'apps:write', 'tenants:read', 'tenants:write', 'users:read', 'users:write', 'system:read',
  'system:write', 'jobs:read', 'jobs:write', 'audit:read',
];
const AUDITOR = ['records:read', 'evidence:read', 'stats:read', 'audit:read'];

// A small JPEG (ffmpeg's test pattern): the evidence frames' stand-in.
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgYGBwYHCEhISEhISckJygoKCcnJycoKCgrKyszMzMrKysoKCsrMDAzMzc5NzQ0MzQ5OTw8PEhIRUVUVFdnZ3z/xACVAAACAwEBAQEAAAAAAAAAAAAFBgMEBwAIAQIBAQEBAQEAAAAAAAAAAAAAAAYFBAgHEAABAwICBgoDAQEBAAAAAAABAAIREgMEgTGxIRNBUbKCYcEzNEIiBTKhcdEU0mIRAAECBQAGBwcFAQEAAAAAAAERAjEAIQQDQTSycYESYVFzMiIFE4KhwkJDBvCR4cFi0bEU/8AAEQgAUAA8AwEiAAIRAAMRAP/aAAwDAQACEQMRAD8Ay4711wtZwE8IAA2kk7AP2jTLmLZDJiBV6Ip0zVojtlSWiDv2xUTuyG6C4NMkDLNHfbud1T7vtu52011RPOnPsUm6unZ3eJqhaA+JOaq10CEBvm9nwNfzMcVAcTWBLSQAla/qeiRzcZi7JIriQD9WEEcCDBByUd7F4vE23Wy+oESRDGiGkGSYERHNfHmkWWCGOBcYPoqdLZP657VH9mXmkbxxLTSDFYa+XQRzHLbyUpnKHNeGNDg4EFBRHd7+Y8ZmMxtb4BQdQ3Km9aQlO3V6qmNtNWltNMTVVNMdswi77t+2YcY2AjY0gg8QRsI/SYpb/n3NPv8AvuZNVO8qpnnTw+3Yhl00jDtEW3NLjBP0qdLaieznt5pgLvM8oSYuETABeeJoYQI6ZrMb6YPK4hQCUKcNFR+CZ7OKxRFLXaAToZsHMkjZmrDsXi2GC+Nk/VhkHiCBBUFkyLzTD3OIMA/el5LqSO7JMtu9bssDX+w7TTtMAkkAwOXPapuS5yNJQF1YKVqFXrTRDjJv/wAmHK9xdyguLiXECPMaFRExivROZ3TFx2WpW5kIfe8Q5alzdCzp4Rwm5eUe8/3I95mcrj7mkLtK/S1Y47pHKQVErxEIivj1GHSkcRN3E6SbdCkUbdCkWKYL++7ef+z1y29zyQOXEcldZhbzmghn5b/UTTxh/CbnrKEvzOa0InV+Vl15y0W+EZG1LsoBWFWuOhOqU21gMS+YtzEepn/S/F/A4ixbdcdbgNifc3iQODittwnry71U+V8ld6nTap2C5e+6xYyGo/JjaUVUcQDpkhgPq24c6Pi9xM+czaeWhwGw8ZCoNtuOgalZBhNIsm3xn8d66MNnjb8zqwh/k0bbG95NFa1FI0LxkOLN0D6/kf1GG4O+8BzWSD/6b/UZ4KihFw1uF2k8f2llk8sblaCx/I6JJbzghOoFlelZgTxh/CbnrKR08Yfwm56yvLM3d4zh+4NUZ2zdh8vGE9eXeqnyvkrvU6bVbwnry71U+V8ld6nTaolrr9v22HabIe01Vu5+0Z81rTFma0xdf5vl4y98s+r7HxSebhxdttM0nbPGdv7Si9pY4tcIIWkYfwm56yiS85z4/UMUQnpnz4ed57O5uGPHrMGTIGtJ5S1HmDuUkjQhVKIk4wnjD+E3PWUjp4w/hNz1leQ5u7xl59waoztm7D5eMJ68u9VPlfJXep02q3hPXl3qp8r5K71Om1RLXX7ftsO02Q9pqrdz9oz5rWmLM1pi6/zfLxl75Z9X2Pil4w/hNz1lEkNw/hNz1lEkFd3jvM84Xut3HbZNsz//2Q==',
  'base64',
);

export interface MockState {
  users: Json[];
  sessions: Map<string, { user: Json; csrf: string }>;
  tenants: Json[];
  scenes: Json[];
  versions: Record<string, Json[]>;
  records: Json[];
  apps: Json[];
  properties: Json[];
  dictTypes: Json[];
  dictData: Record<string, Json[]>;
  jobs: Json[];
  runs: Record<string, Json[]>;
  audit: Json[];
}

export function seed(): MockState {
  const union = { id: randomUUID(), code: 'union', name: '省联社', parent_id: null, created_at: '2026-11-01T00:00:00Z' };
  const bank = { id: randomUUID(), code: 'bank-a', name: '甲农商行', parent_id: union.id, created_at: '2026-11-02T00:00:00Z' };
  const now = Date.now();
  const reasons = ['face_mismatch', 'action_timeout', 'photo_attack', 'no_face'];
  const records = Array.from({ length: 45 }, (_, i) => {
    const verdict = i % 5 === 0 ? 'fail' : i % 11 === 0 ? 'inconclusive' : 'pass';
    const created = new Date(now - i * 3_600_000 * 3).toISOString().replace(/\.\d+Z$/, 'Z');
    return {
      id: randomUUID(), tenant_id: union.id, scene_code: i % 2 ? 'default' : 'open-account', scene_version: 1,
      session_id: randomUUID(), biz_id: `biz-${1000 + i}`, app_id: 'app-mobile', status: 'finished',
      verdict, reasons: verdict === 'pass' ? [] : [reasons[i % reasons.length]], capture: i % 7 ? 'realtime' : 'recording',
      created_at: created, finished_at: created, duration_ms: 2500 + (i % 9) * 400,
      scores: { liveness: 0.91 - (verdict === 'fail' ? 0.5 : 0), blink: 0.88, motion: 0.77, quality: 0.93 },
      client: { user_agent: 'Mozilla/5.0 (iPhone) MicroMessenger/8.0', webview: 'wechat', ip: '10.0.0.8', camera: '480x640' },
      result: { session_id: 'x', verdict, signature: 'eyJhbGciOiJFZERTQSJ9…' },
      timeline: [
        { action: 'blink', at: created, done_ms: 900 },
        { action: 'turn_left', at: created, done_ms: 1700 },
      ],
      evidence: ['best.jpg', 'step-1.jpg', 'step-2.jpg'],
      callbacks: [{ status: 'delivered', attempts: 1, last_status_code: 200, last_error: null }],
    };
  });
  return {
    users: [
      { id: randomUUID(), username: 'admin', display_name: '系统管理员', password: 'admin-password', roles: ['sys_admin'], permissions: ALL_PERMS, tenant: union, enabled: true, created_at: '2026-11-01T00:00:00Z' },
      { id: randomUUID(), username: 'auditor', display_name: '审计员', password: 'auditor-password', roles: ['auditor'], permissions: AUDITOR, tenant: union, enabled: true, created_at: '2026-11-01T00:00:00Z' },
    ],
    sessions: new Map(),
    tenants: [union, bank],
    scenes: [
      { code: 'default', name: '默认场景', version: 1, enabled: true, config: {}, updated_at: '2026-11-20T00:00:00Z' },
      { code: 'open-account', name: '开户', version: 2, enabled: true, config: { actions: { pool: ['blink', 'turn_left'], count: 2 }, callback: { url: 'https://bank.example/cb', secret: '***' } }, updated_at: '2026-11-21T00:00:00Z' },
    ],
    versions: {
      default: [{ version: 1, name: '默认场景', config: {}, created_at: '2026-11-20T00:00:00Z', created_by: 'admin' }],
      'open-account': [
        { version: 1, name: '开户', config: {}, created_at: '2026-11-20T00:00:00Z', created_by: 'admin' },
        { version: 2, name: '开户', config: { actions: { pool: ['blink', 'turn_left'], count: 2 } }, created_at: '2026-11-21T00:00:00Z', created_by: 'admin' },
      ],
    },
    records,
    apps: [{ app_id: 'app-mobile', name: '手机银行', enabled: true, created_at: '2026-11-01T00:00:00Z' }],
    // The server's shapes (docs/admin-api.md: Property, DictType, DictItem, Job, JobRun).
    properties: [
      { key: 'admin.login_lock_threshold', kind: 'int', value: 5, default: 5, min: 1, max: 100, name_zh: '登录锁定阈值', name_en: 'Login lock threshold', description_zh: '锁定前允许的失败次数', description_en: 'failures before the account is locked', updated_by: null },
      { key: 'admin.session_idle_timeout_s', kind: 'duration_s', value: 28800, default: 28800, min: 300, max: 86400, name_zh: '会话空闲超时', name_en: 'Session idle timeout', description_zh: '控制台会话空闲超时', description_en: 'console session idle timeout', updated_by: null },
      { key: 'console.evidence_watermark', kind: 'bool', value: true, default: true, name_zh: '证据水印', name_en: 'Evidence watermark', description_zh: '证据图片加水印', description_en: 'watermark evidence frames', updated_by: null },
    ],
    dictTypes: [
      { code: 'verdict', name_zh: '识别结果', name_en: 'Verdict', status: 'enabled', builtin: true },
      { code: 'reason', name_zh: '失败原因', name_en: 'Reasons', status: 'enabled', builtin: true },
      { code: 'record_status', name_zh: '记录状态', name_en: 'Record status', status: 'enabled', builtin: true },
      { code: 'action', name_zh: '动作', name_en: 'Actions', status: 'enabled', builtin: true },
    ],
    dictData: {
      verdict: [
        { id: randomUUID(), type_code: 'verdict', value: 'pass', label_zh: '通过', label_en: 'Pass', sort: 1, status: 'enabled', builtin: true },
        { id: randomUUID(), type_code: 'verdict', value: 'fail', label_zh: '未通过', label_en: 'Fail', sort: 2, status: 'enabled', builtin: true },
      ],
      reason: [
        { id: randomUUID(), type_code: 'reason', value: 'face_mismatch', label_zh: '人脸比对不一致', label_en: 'Face mismatch', sort: 1, status: 'enabled', builtin: true },
        { id: randomUUID(), type_code: 'reason', value: 'action_timeout', label_zh: '动作超时', label_en: 'Action timed out', sort: 2, status: 'enabled', builtin: true },
        { id: randomUUID(), type_code: 'reason', value: 'photo_attack', label_zh: '照片攻击', label_en: 'Photo attack', sort: 3, status: 'enabled', builtin: true },
        { id: randomUUID(), type_code: 'reason', value: 'no_face', label_zh: '未检测到人脸', label_en: 'No face', sort: 4, status: 'enabled', builtin: true },
      ],
      record_status: [
        { id: randomUUID(), type_code: 'record_status', value: 'finished', label_zh: '已完成', label_en: 'Finished', sort: 1, status: 'enabled', builtin: true },
        { id: randomUUID(), type_code: 'record_status', value: 'expired', label_zh: '已过期', label_en: 'Expired', sort: 2, status: 'enabled', builtin: true },
      ],
      action: [
        { id: randomUUID(), type_code: 'action', value: 'blink', label_zh: '眨眼', label_en: 'Blink', sort: 1, status: 'enabled', builtin: true },
        { id: randomUUID(), type_code: 'action', value: 'turn_left', label_zh: '向左转头', label_en: 'Turn left', sort: 2, status: 'enabled', builtin: true },
      ],
    },
    jobs: [
      { code: 'stats_rollup', name_zh: '统计汇总', name_en: 'Statistics roll-up', description_zh: '按小时汇总调用统计', description_en: 'Rolls the call statistics up by hour', cron: '5 * * * *', default_cron: '5 * * * *', enabled: true, last_run_at: '2026-11-25T08:05:00Z', next_run_at: '2026-11-25T09:05:00Z', last_status: 'ok', running: false },
      { code: 'evidence_purge', name_zh: '证据清理', name_en: 'Evidence purge', description_zh: '删除过期证据', description_en: 'Deletes expired evidence', cron: '0 3 * * *', default_cron: '0 3 * * *', enabled: true, last_run_at: null, next_run_at: '2026-11-26T03:00:00Z', last_status: null, running: false },
    ],
    runs: { stats_rollup: [{ id: randomUUID(), job_code: 'stats_rollup', trigger: 'schedule', requested_by: null, node: 'mock', started_at: '2026-11-25T08:05:00Z', finished_at: '2026-11-25T08:05:01Z', status: 'ok', log: 'rolled up 120 records' }] },
    audit: [{ id: randomUUID(), at: '2026-11-25T08:00:00Z', username: 'admin', action: 'scene.update', target: 'open-account', ip: '10.0.0.1' }],
  };
}

// The generic message of each status the mock answers with (as the server's ErrorCode).
const STATUS_EN: Record<number, string> = { 422: 'validation failed', 409: 'conflict', 403: 'forbidden' };
const STATUS_ZH: Record<number, string> = { 422: '请求参数校验失败', 409: '数据冲突', 403: '没有权限' };

function err(res: ServerResponse, status: number, code: string, message: string, message_zh: string, field?: string, detail?: Json) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  // The server's shape (src/error.rs): `message` in Chinese, `message_en`, the field in `detail`.
  const d = field ? { field, reason: message, reason_zh: message_zh } : detail ? { reason: detail } : undefined;
  res.end(JSON.stringify({ code, message: STATUS_ZH[status] ?? message_zh, message_en: STATUS_EN[status] ?? message, ...(d ? { detail: d } : {}) }));
}
function ok(res: ServerResponse, body: Json, status = 200) {
  res.statusCode = status;
  if (body === undefined) return res.end();
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}
function page(items: Json[], q: URLSearchParams) {
  const offset = Number(q.get('offset') ?? 0);
  const limit = Math.min(Number(q.get('limit') ?? 20), 500);
  return { items: items.slice(offset, offset + limit), total: items.length, offset, limit };
}
async function body(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}
function cookie(req: IncomingMessage, name: string): string | undefined {
  return (req.headers.cookie ?? '').split(';').map((s) => s.trim().split('=')).find(([k]) => k === name)?.[1];
}
const me = (u: Json, csrf: string) => ({ id: u.id, username: u.username, display_name: u.display_name, tenant: u.tenant, roles: u.roles, permissions: u.permissions, csrf_token: csrf });

function filterRecords(s: MockState, q: URLSearchParams) {
  return s.records.filter(
    (r) =>
      (!q.get('scene') || r.scene_code === q.get('scene')) &&
      (!q.get('verdict') || r.verdict === q.get('verdict')) &&
      (!q.get('biz_id') || r.biz_id === q.get('biz_id')) &&
      (!q.get('reason') || r.reasons.includes(q.get('reason'))) &&
      (!q.get('from') || r.created_at >= q.get('from')!) &&
      (!q.get('to') || r.created_at <= q.get('to')!),
  );
}

/** Checks the few scene rules the forms show errors for (the server checks them all). */
function checkRules(c: Json): [string, string, string] | null {
  const n = c?.actions?.count;
  if (n !== undefined && (n < 1 || n > (c.actions.pool?.length ?? 6))) return ['actions.count', `actions.count: must be between 1 and ${c.actions.pool?.length ?? 6} (got ${n})`, `actions.count：必须在 1 到 ${c.actions.pool?.length ?? 6} 之间（实际 ${n}）`];
  const step = c?.timeouts?.step_s;
  if (step !== undefined && (step < 3 || step > 60)) return ['timeouts.step_s', `timeouts.step_s: must be between 3 and 60 (got ${step})`, `timeouts.step_s：必须在 3 到 60 之间（实际 ${step}）`];
  return null;
}

export function handle(s: MockState, req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://mock');
  if (!url.pathname.startsWith('/admin/api/v1/')) return false;
  return (async () => {
    const path = url.pathname.slice('/admin/api/v1'.length);
    const q = url.searchParams;
    const m = req.method ?? 'GET';
    if (path === '/auth/login' && m === 'POST') {
      const b = await body(req);
      const u = s.users.find((x) => x.username === b.username && x.password === b.password && x.enabled !== false);
      if (!u) return err(res, 401, 'UNAUTHORIZED', 'wrong user name or password', '用户名或密码错误'), true;
      const sid = randomUUID();
      const csrf = randomUUID();
      s.sessions.set(sid, { user: u, csrf });
      res.setHeader('Set-Cookie', `livegate_admin=${sid}; HttpOnly; SameSite=Strict; Path=/admin`);
      return ok(res, { user: me(u, csrf), csrf_token: csrf }), true;
    }
    const sess = s.sessions.get(cookie(req, 'livegate_admin') ?? '');
    if (!sess) return err(res, 401, 'UNAUTHORIZED', 'sign in first', '请先登录'), true;
    if (m !== 'GET' && req.headers['x-csrf-token'] !== sess.csrf) return err(res, 403, 'FORBIDDEN', 'forbidden', '没有权限', undefined, 'csrf'), true;
    const can = (p: string) => sess.user.permissions.includes(p);
    const need = (p: string) => (can(p) ? false : (err(res, 403, 'FORBIDDEN', 'forbidden', '没有权限'), true));
    let mm: RegExpMatchArray | null;

    if (path === '/auth/me') return ok(res, me(sess.user, sess.csrf)), true;
    if (path === '/auth/logout' && m === 'POST') {
      s.sessions.delete(cookie(req, 'livegate_admin') ?? '');
      return ok(res, undefined, 204), true;
    }
    if (path === '/auth/password' && m === 'POST') {
      const b = await body(req);
      if (b.old_password !== sess.user.password) return err(res, 422, 'INVALID_REQUEST', 'the current password is wrong', '原密码错误', 'old_password'), true;
      sess.user.password = b.new_password;
      return ok(res, undefined, 204), true;
    }
    if (path === '/records' && m === 'GET') return need('records:read') || ok(res, page(filterRecords(s, q), q)), true;
    if (path === '/records/export') {
      if (need('records:export')) return true;
      const rows = filterRecords(s, q);
      res.setHeader('Content-Type', q.get('format') === 'xlsx' ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="records.${q.get('format') ?? 'csv'}"`);
      res.end(['id,biz_id,verdict', ...rows.map((r) => `${r.id},${r.biz_id},${r.verdict}`)].join('\n'));
      return true;
    }
    if ((mm = path.match(/^\/records\/([^/]+)\/evidence\/([^/]+)$/))) {
      if (need('evidence:read')) return true;
      res.setHeader('Content-Type', 'image/jpeg');
      res.setHeader('Cache-Control', 'no-store');
      res.end(JPEG);
      return true;
    }
    if ((mm = path.match(/^\/records\/([^/]+)$/))) {
      if (need('records:read')) return true;
      const r = s.records.find((x) => x.id === mm![1]);
      return (r ? ok(res, r) : err(res, 404, 'NOT_FOUND', 'not found', '资源不存在')), true;
    }
    if (path === '/stats/summary') {
      if (need('stats:read')) return true;
      const rs = filterRecords(s, q);
      const pass = rs.filter((r) => r.verdict === 'pass').length;
      const fail = rs.filter((r) => r.verdict === 'fail').length;
      return ok(res, { total: rs.length, pass, fail, inconclusive: rs.length - pass - fail, pass_rate: rs.length ? pass / rs.length : null, p50_ms: 3100, p95_ms: 5400 }), true;
    }
    if (path === '/stats/series') {
      if (need('stats:read')) return true;
      const days = Array.from({ length: 7 }, (_, i) => new Date(Date.now() - (6 - i) * 86_400_000).toISOString().slice(0, 10) + 'T00:00:00Z');
      const series = ['default', 'open-account'].map((key) => {
        const total = days.map((d) => s.records.filter((r) => r.scene_code === key && r.created_at.slice(0, 10) === d.slice(0, 10)).length);
        const passN = days.map((d) => s.records.filter((r) => r.scene_code === key && r.verdict === 'pass' && r.created_at.slice(0, 10) === d.slice(0, 10)).length);
        return { key, total, pass: passN };
      });
      return ok(res, { buckets: days, series }), true;
    }
    if (path === '/stats/reasons') {
      if (need('stats:read')) return true;
      const count = new Map<string, number>();
      for (const r of filterRecords(s, q)) for (const x of r.reasons) count.set(x, (count.get(x) ?? 0) + 1);
      const reasons = [...count].map(([reason, c]) => ({ reason, count: c }));
      return ok(res, { reasons, attacks: reasons.filter((r) => r.reason.endsWith('_attack')) }), true;
    }
    if (path === '/scenes' && m === 'GET') return need('scenes:read') || ok(res, page(s.scenes, q)), true;
    if (path === '/scenes' && m === 'POST') {
      if (need('scenes:write')) return true;
      const b = await body(req);
      if (!/^[a-z0-9_-]{1,64}$/.test(b.code ?? '')) return err(res, 422, 'INVALID_REQUEST', 'code: 1 to 64 of a-z, 0-9, - and _', 'code：1 到 64 位小写字母、数字、- 或 _', 'code'), true;
      if (s.scenes.some((x) => x.code === b.code)) return err(res, 409, 'CONFLICT', 'the scene exists', '场景已存在', 'code'), true;
      const bad = checkRules(b.config);
      if (bad) return err(res, 422, 'INVALID_REQUEST', bad[1], bad[2], bad[0]), true;
      const sc = { code: b.code, name: b.name, version: 1, enabled: true, config: b.config ?? {}, updated_at: new Date().toISOString() };
      s.scenes.push(sc);
      s.versions[b.code] = [{ version: 1, name: b.name, config: sc.config, created_at: sc.updated_at, created_by: sess.user.username }];
      return ok(res, sc, 201), true;
    }
    if ((mm = path.match(/^\/scenes\/([^/]+)(\/[a-z]+)?(?:\/(\d+))?$/))) {
      const sc = s.scenes.find((x) => x.code === mm![1]);
      if (!sc) return err(res, 404, 'NOT_FOUND', 'not found', '资源不存在'), true;
      const sub = mm[2];
      if (!sub && m === 'GET') return need('scenes:read') || ok(res, sc), true;
      if (!sub && m === 'PUT') {
        if (need('scenes:write')) return true;
        const b = await body(req);
        if (b.version !== sc.version) return err(res, 409, 'CONFLICT', 'the scene changed since it was read', '场景已被修改'), true;
        const bad = checkRules(b.config);
        if (bad) return err(res, 422, 'INVALID_REQUEST', bad[1], bad[2], bad[0]), true;
        Object.assign(sc, { name: b.name, config: b.config, version: sc.version + 1, updated_at: new Date().toISOString() });
        s.versions[sc.code]!.push({ version: sc.version, name: sc.name, config: sc.config, created_at: sc.updated_at, created_by: sess.user.username });
        return ok(res, sc), true;
      }
      if (sub === '/disable' || sub === '/enable') {
        if (need('scenes:write')) return true;
        sc.enabled = sub === '/enable';
        return ok(res, sc), true;
      }
      if (sub === '/versions') return need('scenes:read') || ok(res, mm[3] ? s.versions[sc.code]!.find((v) => v.version === Number(mm![3])) : page(s.versions[sc.code] ?? [], q)), true;
    }
    if (path === '/engines') {
      if (need('engines:read')) return true;
      // The server's shape (docs/admin-api.md Engines): both built-ins share one pool.
      const pool = { workers: 2, busy: 0, load: 0, queue_depth: 0, queue_max: 3, jobs_done: 1234, rejected: 0, restarts: 0, latency_ms: { p50: 6.1, p95: 11.8 } };
      return ok(res, { items: [
        { name: 'livegate', kind: 'builtin', role: 'liveness', version: '0.1.0', runtime: 'openvino', health: 'ok', pool, models: [{ file: 'face_detection_short_range.tflite', sha256: '3bc182eb…' }, { file: 'face_landmark.tflite', sha256: '1055cb9d…' }] },
        { name: 'dlib', kind: 'builtin', role: 'compare', version: '0.1.0', runtime: 'openvino', health: 'ok', pool, models: [{ file: 'dlib_face_recognition_resnet_model_v1.dat', sha256: '5ed9b1fa…' }] },
      ] }), true;
    }
    if (path === '/apps' && m === 'GET') return need('apps:read') || ok(res, page(s.apps, q)), true;
    if (path === '/apps' && m === 'POST') {
      if (need('apps:write')) return true;
      const b = await body(req);
      if (!b.name) return err(res, 422, 'INVALID_REQUEST', 'name: required', 'name：必填', 'name'), true;
      const a = { app_id: `app-${randomUUID().slice(0, 8)}`, name: b.name, enabled: true, created_at: new Date().toISOString() };
      s.apps.push(a);
      return ok(res, { ...a, secret: randomUUID().replace(/-/g, '') }, 201), true;
    }
    if ((mm = path.match(/^\/apps\/([^/]+)\/disable$/))) {
      if (need('apps:write')) return true;
      const a = s.apps.find((x) => x.app_id === mm![1]);
      if (a) a.enabled = false;
      return ok(res, a), true;
    }
    if (path === '/tenants' && m === 'GET') return need('tenants:read') || ok(res, page(s.tenants, q)), true;
    if (path === '/tenants' && m === 'POST') {
      if (need('tenants:write')) return true;
      const b = await body(req);
      const t = { id: randomUUID(), code: b.code, name: b.name, parent_id: b.parent_id, created_at: new Date().toISOString() };
      s.tenants.push(t);
      return ok(res, t, 201), true;
    }
    if (path === '/users' && m === 'GET') return need('users:read') || ok(res, page(s.users.map(({ password: _p, ...u }) => u), q)), true;
    if (path === '/users' && m === 'POST') {
      if (need('users:write')) return true;
      const b = await body(req);
      if ((b.password ?? '').length < 10) return err(res, 422, 'INVALID_REQUEST', 'password: at least 10 characters', 'password：至少 10 个字符', 'password'), true;
      const u = { id: randomUUID(), ...b, permissions: AUDITOR, tenant: sess.user.tenant, enabled: true, created_at: new Date().toISOString() };
      s.users.push(u);
      return ok(res, u, 201), true;
    }
    if ((mm = path.match(/^\/users\/([^/]+)(\/[a-z]+)?$/))) {
      if (need('users:write')) return true;
      const u = s.users.find((x) => x.id === mm![1]);
      if (!u) return err(res, 404, 'NOT_FOUND', 'not found', '资源不存在'), true;
      if (mm[2] === '/disable') u.enabled = false;
      else if (mm[2] === '/unlock') u.locked_until = null;
      else Object.assign(u, await body(req));
      return ok(res, u), true;
    }
    if (path === '/roles') {
      if (need('users:read')) return true;
      return ok(res, { items: [
        { code: 'sys_admin', name: '系统管理员', permissions: ALL_PERMS, builtin: true },
        { code: 'auditor', name: '审计员', permissions: AUDITOR, builtin: true },
      ], total: 2, offset: 0, limit: 20 }), true;
    }
    if (path === '/system/properties') return need('system:read') || ok(res, { items: s.properties, total: s.properties.length, offset: 0, limit: 500 }), true;
    if ((mm = path.match(/^\/system\/properties\/([^/]+)$/)) && m === 'PUT') {
      if (need('system:write')) return true;
      const p = s.properties.find((x) => x.key === mm![1]);
      const b = await body(req);
      if (!p) return err(res, 404, 'NOT_FOUND', 'not found', '资源不存在'), true;
      if (p.kind === 'int' && (typeof b.value !== 'number' || b.value < 1)) return err(res, 422, 'INVALID_REQUEST', 'value: must be a positive integer', 'value：必须是正整数', 'value'), true;
      p.value = b.value;
      p.updated_at = new Date().toISOString();
      return ok(res, p), true;
    }
    if (path === '/dict/types' && m === 'GET') return ok(res, page(s.dictTypes, q)), true;
    if (path === '/dict/types' && m === 'POST') {
      if (need('system:write')) return true;
      const b = await body(req);
      s.dictTypes.push({ ...b, status: 'enabled', builtin: false });
      s.dictData[b.code] = [];
      return ok(res, b, 201), true;
    }
    if ((mm = path.match(/^\/dict\/types\/([^/]+)\/data(?:\/([^/]+))?$/))) {
      const list = s.dictData[mm[1]!];
      if (!list) return err(res, 404, 'NOT_FOUND', 'not found', '资源不存在'), true;
      if (m === 'GET') return ok(res, page(list, q)), true;
      if (need('system:write')) return true;
      if (m === 'POST') return list.push({ id: randomUUID(), type_code: mm[1], status: 'enabled', builtin: false, ...(await body(req)) }), ok(res, list[list.length - 1], 201), true;
      const i = list.findIndex((d) => d.id === decodeURIComponent(mm![2] ?? ''));
      if (i < 0) return err(res, 404, 'NOT_FOUND', 'not found', '资源不存在'), true;
      if (m === 'PUT') {
        const b = await body(req);
        if ('value' in b) return err(res, 400, 'BAD_REQUEST', 'value: never changes', 'value：不可修改'), true;
        return Object.assign(list[i]!, b), ok(res, list[i]), true;
      }
      if (m === 'DELETE') {
        if (list[i]!.builtin) return err(res, 409, 'CONFLICT', 'a built-in entry cannot be deleted: disable it', '内置字典项不可删除，请停用', undefined), true;
        return list.splice(i, 1), ok(res, undefined, 204), true;
      }
    }
    if (path === '/jobs') return need('jobs:read') || ok(res, { items: s.jobs, total: s.jobs.length, offset: 0, limit: 100 }), true;
    if ((mm = path.match(/^\/jobs\/([^/]+)(\/[a-z]+)?$/))) {
      const j = s.jobs.find((x) => x.code === mm![1]);
      if (!j) return err(res, 404, 'NOT_FOUND', 'not found', '资源不存在'), true;
      if (mm[2] === '/runs') return need('jobs:read') || ok(res, page(s.runs[j.code] ?? [], q)), true;
      if (need('jobs:write')) return true;
      if (mm[2] === '/run') {
        const run = { id: randomUUID(), job_code: j.code, trigger: 'manual', requested_by: sess.user.username, node: 'mock', started_at: new Date().toISOString(), finished_at: new Date().toISOString(), status: 'ok', log: `${j.code}: done` };
        (s.runs[j.code] ??= []).unshift(run);
        j.last_run_at = run.started_at;
        j.last_status = 'ok';
        return ok(res, run, 202), true;
      }
      const b = await body(req);
      if (typeof b.cron !== 'string' || b.cron.trim().split(/\s+/).length < 5) return err(res, 422, 'INVALID_REQUEST', 'cron: not a cron expression', 'cron：不是有效的 Cron 表达式', 'cron'), true;
      Object.assign(j, { cron: b.cron, enabled: b.enabled });
      return ok(res, j), true;
    }
    if (path === '/audit') return need('audit:read') || ok(res, page(s.audit, q)), true;
    err(res, 404, 'NOT_FOUND', 'not found', '资源不存在');
    return true;
  })();
}

/** Connect-style middleware over one in-memory state. */
export function mockMiddleware(state = seed()) {
  return (req: IncomingMessage, res: ServerResponse, next: Next) => {
    Promise.resolve(handle(state, req, res)).then(
      (done) => (done ? undefined : next()),
      (e) => next(e),
    );
  };
}
