// A stand-in for `livegate serve` that speaks docs/h5-protocol.md: serves dist/ at /h5/, the
// challenge and the WebSocket (a minimal RFC 6455 server), opens every frame with the server's
// key and checks its order. It lets the page be tested in Chromium without the Rust server, and
// scripts what the real one does rarely (drops, closing codes).
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBase64Url, toBase64Url } from '../src/protocol/bytes';
import type { Fallback, RecordingOffer } from '../src/protocol/messages';
import { deriveKeys, keyPair, openFrame } from '../src/protocol/seal';
import { RecordingDesk, type DeskScript } from './recording-desk';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

export interface OpenedFrame {
  conn: number;
  seq: bigint;
  captureMs: bigint;
  bytes: number;
  jpeg: boolean;
  width: number;
  height: number;
  /** the header's `flash` byte: the colour step on screen at capture (0 = none) */
  flash: number;
}

export interface Hello {
  conn: number;
  suite: string;
  client_key: string;
  resume: boolean;
  client: Record<string, unknown>;
}

export interface Script {
  steps?: { action: string; text: string }[];
  /** frames (over the session) before each step passes */
  framesPerStep?: number;
  /** send a prompt at this frame count */
  promptAt?: number;
  /** passed or not, with its text; sent after all steps (or after `resultAt` frames) */
  result?: { passed: boolean; reasons: string[]; text: string; return_url?: string };
  resultAt?: number;
  /** kill the TCP connection (no close frame) when the session reaches this many frames, once */
  dropAt?: number;
  /** close with this code (after an `error` message) when the session reaches `closeAt` frames */
  closeWith?: { at: number; code: number; reason: string };
  /** challenge status and result (a reload after the end) */
  finished?: { passed: boolean; reasons: string[]; text: string; return_url?: string };
  /** answer the challenge with this HTTP status */
  challengeStatus?: number;
  /** delay every ack by this many ms */
  ackDelayMs?: number;
  /** the challenge's `recording` (absent: an older server without the fallback) */
  recording?: RecordingOffer;
  /** the challenge's `fallback` (absent: a server before the scene's fallback rules) */
  fallback?: Fallback;
  /** how the recorded-video endpoints behave (cuts, 422, the verdict) */
  desk?: DeskScript;
  /** refuse every WebSocket upgrade (a proxy that blocks WebSockets) */
  refuseWs?: boolean;
  /** a colour scene: the challenge's `flash` steps, and the frame count at which to send `flash` */
  flash?: { steps: { tag: number; colour: string; rgb: string; ms: number }[]; at: number };
}

export class MockServer {
  readonly sid = '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6071';
  readonly token = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C';
  readonly server = keyPair();
  readonly hellos: Hello[] = [];
  readonly frames: OpenedFrame[] = [];
  readonly refused: string[] = [];
  /** the most frames ever received and not yet acknowledged (the page's cap is 2) */
  maxUnacked = 0;
  private acksSent = 0;
  private http: Server;
  private conns = 0;
  private lastSeq = 0n;
  private lastCapture = 0n;
  private bound: string | null = null;
  private dropped = false;
  private done = 0;
  private ended = false;
  private sockets = new Set<Socket>();
  /** the recorded-video endpoints (they open every chunk with this server's key) */
  readonly desk: RecordingDesk;
  /** WebSocket upgrades asked for (refused ones too) */
  upgrades = 0;

  constructor(public script: Script = {}) {
    this.desk = new RecordingDesk(this.sid, this.server, script.recording ?? { enabled: false, max_bytes: 1, max_s: 5, chunk_bytes: 262144 }, script.desk);
    this.http = createServer((req, res) => this.onHttp(req, res));
    this.http.on('upgrade', (req, socket: Socket) => this.onUpgrade(req, socket));
    this.http.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.http.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  link(base: string, extra = ''): string {
    return `${base}/h5/?sid=${this.sid}&t=${this.token}${extra}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.http.close(() => r()));
  }

  private steps() {
    return (this.script.steps ?? [{ action: 'blink', text: '请眨眨眼' }, { action: 'turn_left', text: '请缓慢向左转头' }]).map((s, index) => ({ index, ...s }));
  }

  private onHttp(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const rec = `/h5/v1/sessions/${this.sid}/recording`;
    if (url.pathname === rec || url.pathname.startsWith(`${rec}/`)) {
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"UNAUTHORIZED","message":"x"}');
        return;
      }
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const r = this.desk.handle(req.method ?? 'GET', url.pathname.slice(rec.length), new Uint8Array(Buffer.concat(parts)));
        if (r === 'cut') {
          req.socket.destroy();
          return;
        }
        res.writeHead(r.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(r.json));
      });
      return;
    }
    if (url.pathname === `/h5/v1/sessions/${this.sid}/challenge`) {
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"UNAUTHORIZED","message":"x"}');
        return;
      }
      if (this.script.challengeStatus) {
        res.writeHead(this.script.challengeStatus, { 'content-type': 'application/json' }).end('{"code":"X","message":"x"}');
        return;
      }
      // A verdict on a recorded clip finishes the session as a real-time one would.
      const fin = this.script.finished ?? this.desk.result ?? undefined;
      const body = {
        session_id: this.sid,
        status: fin ? 'finished' : this.bound ? 'running' : 'pending',
        suites: ['X25519-CHACHA20POLY1305-SHA256'],
        server_key: toBase64Url(this.server.publicKey),
        mode: 'action',
        steps: this.steps(),
        capture: { width: 480, height: 640, jpeg_quality: 0.8, min_fps: 8, max_fps: 15 },
        limits: { max_frame_bytes: 262144, max_fps: 20, max_frames: 1200, max_total_bytes: 67108864, max_duration_s: 90 },
        expires_at: new Date(Date.now() + 600_000).toISOString(),
        lang: url.searchParams.get('lang') ?? 'zh-CN',
        ws_path: `/h5/v1/sessions/${this.sid}/ws`,
        ...(fin ? { result: fin } : {}),
        ...(this.script.recording ? { recording: this.script.recording } : {}),
        ...(this.script.fallback ? { fallback: this.script.fallback } : {}),
        ...(this.script.flash ? { flash: { steps: this.script.flash.steps } } : {}),
      };
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      return;
    }
    if (url.pathname.startsWith('/bank/')) {
      // The integrator's return page.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>bank</title><p id="bank">back at the bank</p>');
      return;
    }
    let path = url.pathname === '/h5/' ? 'index.html' : url.pathname.replace(/^\/h5\//, '');
    path = normalize(path).replace(/^(\.\.[/\\])+/, '');
    const file = join(DIST, path);
    if (!url.pathname.startsWith('/h5/') || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  }

  private onUpgrade(req: IncomingMessage, socket: Socket): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.upgrades += 1;
    if (this.script.refuseWs) {
      socket.destroy();
      return;
    }
    if (url.pathname !== `/h5/v1/sessions/${this.sid}/ws` || url.searchParams.get('t') !== this.token) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const conn = ++this.conns;
    let buf = Buffer.alloc(0);
    let key: Uint8Array | null = null;
    const send = (obj: unknown) => {
      if (!socket.destroyed) socket.write(wsFrame(1, Buffer.from(JSON.stringify(obj))));
    };
    const closeWith = (code: number, reason: string) => {
      if (code >= 4000) send({ type: 'error', code, reason });
      const p = Buffer.alloc(2 + Buffer.byteLength(reason));
      p.writeUInt16BE(code, 0);
      p.write(reason, 2);
      if (!socket.destroyed) socket.end(wsFrame(8, p));
    };
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const f = readFrame(buf);
        if (!f) break;
        buf = buf.subarray(f.used);
        if (f.opcode === 8) {
          socket.end(wsFrame(8, f.payload.subarray(0, 2)));
          return;
        }
        if (f.opcode === 9) {
          socket.write(wsFrame(10, f.payload));
          continue;
        }
        if (f.opcode === 1) {
          if (key) return closeWith(4000, 'bad_message');
          const hello = JSON.parse(f.payload.toString('utf8')) as Hello;
          this.hellos.push({ ...hello, conn });
          if (this.bound && this.bound !== hello.client_key) return closeWith(4003, 'key_mismatch');
          this.bound = hello.client_key;
          const ck = fromBase64Url(hello.client_key);
          key = deriveKeys(this.sid, this.server.privateKey, ck, ck, this.server.publicKey).c2s;
          const steps = this.steps();
          const cur = steps[this.done];
          send({ type: 'ready', next_seq: Number(this.lastSeq + 1n), done: this.done, total: steps.length, ...(cur ? { step: cur } : {}) });
          continue;
        }
        if (f.opcode === 2) {
          if (!key || this.ended) return closeWith(key ? 4011 : 4000, key ? 'session_ended' : 'bad_message');
          let opened;
          try {
            opened = openFrame(key, this.sid, new Uint8Array(f.payload));
          } catch {
            this.refused.push('open_failed');
            return closeWith(4004, 'open_failed');
          }
          if (opened.seq <= this.lastSeq || opened.captureMs < this.lastCapture) {
            this.refused.push('replay');
            return closeWith(4005, 'replay');
          }
          this.lastSeq = opened.seq;
          this.lastCapture = opened.captureMs;
          const jpeg = opened.plaintext;
          const size = jpegSize(jpeg);
          this.frames.push({ conn, seq: opened.seq, captureMs: opened.captureMs, bytes: jpeg.length, jpeg: jpeg[0] === 0xff && jpeg[1] === 0xd8, ...size, flash: opened.flash });
          const seq = Number(opened.seq);
          this.maxUnacked = Math.max(this.maxUnacked, this.frames.length - this.acksSent);
          const ack = () => {
            this.acksSent += 1;
            send({ type: 'ack', seq });
          };
          if (this.script.ackDelayMs) setTimeout(ack, this.script.ackDelayMs);
          else ack();
          this.afterFrame(send, closeWith, socket);
        }
      }
    });
  }

  private afterFrame(send: (o: unknown) => void, closeWith: (c: number, r: string) => void, socket: Socket): void {
    const n = this.frames.length;
    const s = this.script;
    const steps = this.steps();
    const per = s.framesPerStep ?? 10;
    if (s.dropAt && n >= s.dropAt && !this.dropped) {
      this.dropped = true;
      socket.destroy();
      return;
    }
    if (s.closeWith && n >= s.closeWith.at) return closeWith(s.closeWith.code, s.closeWith.reason);
    if (s.flash && s.flash.at === n) send({ type: 'flash', text: '请保持不动，脸靠近屏幕' });
    if (s.promptAt === n) send({ type: 'prompt', code: 'TOO_FAR', text: '请靠近一点' });
    if (s.promptAt !== undefined && n === s.promptAt + 3) send({ type: 'prompt', code: null, text: '' });
    if (n === 3 && this.done === 0 && steps[0]) send({ type: 'step', ...steps[0], done: 0, total: steps.length });
    if (this.done < steps.length && n >= 3 + per * (this.done + 1)) {
      const st = steps[this.done]!;
      this.done += 1;
      send({ type: 'step_passed', index: st.index, action: st.action, done: this.done, total: steps.length });
      const next = steps[this.done];
      if (next) send({ type: 'step', ...next, done: this.done, total: steps.length });
    }
    const resultAt = s.resultAt ?? 3 + per * steps.length + 2;
    if (s.result && n >= resultAt && !this.ended) {
      this.ended = true;
      send({ type: 'result', ...s.result });
      closeWith(1000, 'done');
    }
  }
}

function wsFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255]) : (() => {
    const h = Buffer.alloc(10);
    h[0] = 0x80 | opcode;
    h[1] = 127;
    h.writeBigUInt64BE(BigInt(len), 2);
    return h;
  })();
  return Buffer.concat([head, payload]);
}

function readFrame(buf: Buffer): { opcode: number; payload: Buffer; used: number } | null {
  if (buf.length < 2) return null;
  const opcode = buf[0]! & 0x0f;
  const masked = (buf[1]! & 0x80) !== 0;
  let len = buf[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  const maskOff = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskOff + (i % 4)]!;
  return { opcode, payload, used: off + len };
}

/** Width and height from a JPEG's SOF marker. */
function jpegSize(j: Uint8Array): { width: number; height: number } {
  let i = 2;
  while (i + 9 < j.length) {
    if (j[i] !== 0xff) return { width: 0, height: 0 };
    const m = j[i + 1]!;
    const len = (j[i + 2]! << 8) | j[i + 3]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return { height: (j[i + 5]! << 8) | j[i + 6]!, width: (j[i + 7]! << 8) | j[i + 8]! };
    }
    i += 2 + len;
  }
  return { width: 0, height: 0 };
}
