// The built console served as livegate serves it (dist at /admin/, index.html for client routes,
// the same CSP), over the in-memory admin API of mock/api.ts.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { handle, seed, type MockState } from '../mock/api';
import { DIST } from './browser';

/** src/console.rs CSP, kept equal by e2e/server.test.ts reading the real header. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png' };

export async function startMock(state: MockState = seed()): Promise<{ base: string; state: MockState; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    if (await handle(state, req, res)) return;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!path.startsWith('/admin/')) {
      res.statusCode = 404;
      return res.end();
    }
    const name = normalize(path.slice('/admin/'.length) || 'index.html');
    const last = name.split('/').pop() ?? '';
    const file = name.startsWith('..') ? null : !last.includes('.') && !name.startsWith('assets/') ? 'index.html' : name;
    try {
      if (!file) throw new Error('outside');
      const body = await readFile(join(DIST, file));
      res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
      res.setHeader('Content-Security-Policy', CONSOLE_CSP);
      res.end(body);
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}
