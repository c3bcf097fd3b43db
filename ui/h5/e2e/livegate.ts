// Starts the real server (target/release/livegate serve) on a free port with a temp data
// folder, creates an app, signs Open API requests, and relays TCP so tests can cut the line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket, connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
export const BIN = process.env.LIVEGATE_BIN ?? join(REPO, 'target/release/livegate');

export const DIST = join(REPO, 'ui/h5/dist');

/** Why the real-server tests cannot run here (no binary), or null. */
export function livegateMissing(): string | null {
  if (!existsSync(BIN)) return `no server binary at ${BIN} (cargo build --release -p livegate, or set LIVEGATE_BIN)`;
  return null;
}

/** A page that is not built is a failure, not a skip: `npm test` builds it first. */
export function assertBuilt(): void {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST}/index.html is missing: run npm run build (npm test does)`);
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface Livegate {
  base: string;
  port: number;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  log(): string;
  stop(): Promise<void>;
}

/** Environment for the server and its CLI: temp data, the repo's models, quiet logs. */
function serverEnv(dataDir: string, port: number, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LIVEGATE_DATA_DIR: dataDir,
    LIVEGATE_MODELS_DIR: process.env.LIVEGATE_MODELS_DIR ?? join(REPO, 'var/models'),
    LIVEGATE_SERVER__PORT: String(port),
    // The page this tree built, whatever the working directory; links point at this server.
    LIVEGATE_SERVER__H5_DIR: DIST,
    LIVEGATE_SERVER__PUBLIC_URL: `http://127.0.0.1:${port}`,
    LIVEGATE_LOG__LEVEL: process.env.LIVEGATE_E2E_LOG ?? 'info',
    // Chromium's fake camera names itself a fake device; this rig knows it is the test camera.
    LIVEGATE_ENGINE__TRUSTED_CAMERA_LABELS: '["fake_device_0"]',
    ...extra,
  };
}

export async function startLivegate(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Livegate> {
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const env = serverEnv(dataDir, port, extraEnv);
  const logFile = join(dataDir, 'server.log');
  const out = openSync(logFile, 'a');
  // The working directory is the repo (conf/ is found there; the page comes from H5_DIR).
  const child: ChildProcess = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: REPO,
    env,
    stdio: ['ignore', out, out],
  });
  const base = `http://127.0.0.1:${port}`;
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`livegate serve exited with ${exited}:\n${log().slice(-4000)}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`livegate serve did not answer /healthz in 60 s:\n${log().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base,
    port,
    dataDir,
    env,
    logFile,
    log,
    stop: async () => {
      if (exited !== null) return;
      child.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 10_000);
        child.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}

/** `livegate apps create`: the app id and its secret (shown once). */
export function createApp(lg: Livegate, name = 'h5-e2e'): { app_id: string; secret: string } {
  const r = spawnSync(BIN, ['apps', 'create', '--name', name], { cwd: REPO, env: lg.env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`apps create failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { app_id: string; secret: string };
}

/**
 * `livegate scenes set CODE --file F`: a scene's rules. This is how the tests pin the challenge:
 * a scene whose pool holds one action asks for exactly that one (no test-only setting needed).
 */
export function setScene(lg: Livegate, code: string, rules: unknown, dir: string): void {
  const file = join(dir, `${code}.json`);
  writeFileSync(file, JSON.stringify(rules));
  const r = spawnSync(BIN, ['scenes', 'set', code, '--file', file], { cwd: REPO, env: lg.env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`scenes set ${code} failed: ${r.stderr}`);
}

const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The canonical query of the Open API signature (sorted, RFC 3986 encoded). */
export function canonicalQuery(raw: string): string {
  return raw
    .split('&')
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      const [k, v] = i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
      const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, '%20'));
      return [enc(dec(k)), enc(dec(v))] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** A signed Open API request (METHOD\nPATH\nQUERY\nTS\nNONCE\nhex(sha256(body)), HMAC-SHA256). */
export async function openApi(
  base: string,
  app: { app_id: string; secret: string },
  method: 'GET' | 'POST',
  pathAndQuery: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const url = new URL(pathAndQuery, base);
  const raw = body === undefined ? '' : JSON.stringify(body);
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const canonical = [method, url.pathname, canonicalQuery(url.search.slice(1)), ts, nonce, createHash('sha256').update(raw).digest('hex')].join('\n');
  const sig = createHmac('sha256', app.secret).update(canonical).digest('hex');
  const r = await fetch(url, {
    method,
    headers: {
      'X-LG-AppId': app.app_id,
      'X-LG-Timestamp': ts,
      'X-LG-Nonce': nonce,
      'X-LG-Signature': sig,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : raw,
  });
  const text = await r.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, json };
}

/** Creates a session on the default scene; returns the page link on `pageBase` (e.g. a relay). */
export async function createSession(
  lg: Livegate,
  app: { app_id: string; secret: string },
  pageBase: string,
  o: { return_url?: string; lang?: 'en'; scene?: string } = {},
): Promise<{ session_id: string; link: string; h5_url: string }> {
  const r = await openApi(lg.base, app, 'POST', '/open/v1/sessions', {
    scene: o.scene ?? 'default',
    biz_id: `e2e-${Date.now()}-${randomBytes(3).toString('hex')}`,
    ...(o.return_url ? { return_url: o.return_url } : {}),
  });
  if (r.status !== 201) throw new Error(`POST /open/v1/sessions: ${r.status} ${JSON.stringify(r.json)}`);
  const h5 = new URL(r.json.h5_url as string);
  const link = `${pageBase}${h5.pathname}${h5.search}${o.lang ? '&lang=en' : ''}`;
  return { session_id: r.json.session_id, link, h5_url: r.json.h5_url };
}

/** A TCP relay in front of the server: `cut()` kills every open connection (a dropped network). */
export class Relay {
  private srv: Server;
  private socks = new Set<Socket>();
  constructor(private readonly target: number) {
    this.srv = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.socks.add(client);
      this.socks.add(upstream);
      const forget = () => {
        this.socks.delete(client);
        this.socks.delete(upstream);
      };
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', forget);
      upstream.on('close', forget);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.srv.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.srv.address() as AddressInfo).port}`;
  }
  /** Drops every connection without a close frame. */
  cut(): number {
    const n = this.socks.size;
    for (const s of this.socks) s.destroy();
    this.socks.clear();
    return n;
  }
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.srv.close(() => r()));
  }
}
