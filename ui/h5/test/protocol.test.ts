import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, fromHex, readU64BE, toBase64Url, toHex, uuidBytes, writeU64BE } from '../src/protocol/bytes';
import { CLOSE_CODES, backoffMs, closeInfo } from '../src/protocol/close';
import { cut, parseChallenge, parseServerMessage, safeReturnUrl } from '../src/protocol/messages';
import {
  FrameSealer,
  clientKeys,
  decodeHeader,
  deriveKeys,
  encodeHeader,
  frameAad,
  frameNonce,
  keyPair,
  openFrame,
  sealFrame,
} from '../src/protocol/seal';

const SID = '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6071';

describe('bytes', () => {
  it('base64url round-trips every length without padding', () => {
    for (let n = 0; n < 40; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const s = toBase64Url(b);
      expect(s).not.toMatch(/[=+/]/);
      expect(s).toBe(Buffer.from(b).toString('base64url'));
      expect(fromBase64Url(s)).toEqual(b);
    }
    expect(fromBase64Url('AQI=')).toEqual(Uint8Array.of(1, 2));
    expect(() => fromBase64Url('a+b/')).toThrow();
    expect(() => fromBase64Url('A')).toThrow();
  });
  it('hex and u64 big-endian', () => {
    expect(toHex(fromHex('00ff10'))).toBe('00ff10');
    expect(() => fromHex('0')).toThrow();
    const b = new Uint8Array(8);
    writeU64BE(b, 0, 0x0102030405060708n);
    expect(toHex(b)).toBe('0102030405060708');
    expect(readU64BE(b, 0)).toBe(0x0102030405060708n);
    writeU64BE(b, 0, 2n ** 64n - 1n);
    expect(toHex(b)).toBe('ffffffffffffffff');
    expect(() => writeU64BE(b, 0, 2n ** 64n)).toThrow(RangeError);
    expect(() => writeU64BE(b, 0, -1)).toThrow(RangeError);
  });
  it('a UUID is its 16 raw bytes', () => {
    expect(toHex(uuidBytes(SID))).toBe('0193b2c45d6e7f809a1b2c3d4e5f6071');
    expect(() => uuidBytes('not-a-uuid')).toThrow();
  });
});

describe('frame header', () => {
  it('is version, kind, seq, capture_ms, flash in 19 bytes', () => {
    const h = encodeHeader({ seq: 1, captureMs: 1764028800000, flash: 2 });
    expect(h.length).toBe(19);
    expect(toHex(h)).toBe('0101' + '0000000000000001' + '0000019ab84f5c00' + '02');
    expect(decodeHeader(h)).toEqual({ seq: 1n, captureMs: 1764028800000n, flash: 2 });
    const big = encodeHeader({ seq: 2n ** 63n + 5n, captureMs: 0, flash: 255 });
    expect(decodeHeader(big).seq).toBe(2n ** 63n + 5n);
    expect(() => encodeHeader({ seq: 1, captureMs: 0, flash: 256 })).toThrow();
    expect(() => decodeHeader(Uint8Array.of(2, 1, ...new Array(17).fill(0)))).toThrow();
    expect(() => decodeHeader(Uint8Array.of(1, 2, ...new Array(17).fill(0)))).toThrow();
  });
  it('nonce is 4 zero bytes then seq; aad is label, session id, header', () => {
    expect(toHex(frameNonce(258))).toBe('00000000' + '0000000000000102');
    const header = encodeHeader({ seq: 7, captureMs: 9, flash: 0 });
    const aad = frameAad(SID, header);
    expect(aad.length).toBe(14 + 16 + 19);
    expect(new TextDecoder().decode(aad.slice(0, 14))).toBe('livegate-h5-v1');
    expect(toHex(aad.slice(14, 30))).toBe('0193b2c45d6e7f809a1b2c3d4e5f6071');
    expect(aad.slice(30)).toEqual(header);
  });
});

describe('sealing', () => {
  const client = keyPair();
  const server = keyPair();
  const keys = clientKeys(SID, client, server.publicKey);

  it('both sides agree the keys; the two directions differ', () => {
    const serverSide = deriveKeys(SID, server.privateKey, client.publicKey, client.publicKey, server.publicKey);
    expect(serverSide).toEqual(keys);
    expect(toHex(keys.c2s)).not.toBe(toHex(keys.s2c));
    // Another session id (salt) gives other keys.
    const other = clientKeys('0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6072', client, server.publicKey);
    expect(toHex(other.c2s)).not.toBe(toHex(keys.c2s));
  });

  it('a low-order server key is refused (all-zero shared secret)', () => {
    expect(() => clientKeys(SID, client, new Uint8Array(32))).toThrow();
    expect(() => clientKeys(SID, client, new Uint8Array(31))).toThrow();
  });

  it('a sealed frame opens; tampering, another session or a re-timed header do not', () => {
    const jpeg = Uint8Array.of(0xff, 0xd8, 1, 2, 3);
    const frame = sealFrame(keys.c2s, SID, { seq: 5, captureMs: 1000, flash: 0 }, jpeg);
    expect(frame.length).toBe(19 + jpeg.length + 16);
    expect(openFrame(keys.c2s, SID, frame).plaintext).toEqual(jpeg);
    for (const at of [5, 15, 18, 19, frame.length - 1]) {
      const bad = frame.slice();
      bad[at]! ^= 1;
      expect(() => openFrame(keys.c2s, SID, bad)).toThrow();
    }
    expect(() => openFrame(keys.c2s, '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6072', frame)).toThrow();
    expect(() => openFrame(keys.s2c, SID, frame)).toThrow();
  });

  it('the sealer counts seq up, resumes at next_seq, never lets capture time go back', () => {
    const s = new FrameSealer(keys.c2s, SID);
    const a = s.seal(Uint8Array.of(1), 2000);
    const b = s.seal(Uint8Array.of(2), 1500); // the clock stepped back
    expect(a.seq).toBe(1n);
    expect(b.seq).toBe(2n);
    expect(openFrame(keys.c2s, SID, b.frame).captureMs).toBe(2000n);
    s.resumeAt(10);
    expect(s.seal(Uint8Array.of(3), 2100).seq).toBe(10n);
    s.resumeAt(4); // never back
    expect(s.peekSeq()).toBe(11n);
  });
});

describe('server messages', () => {
  it('reads every message type of §3.5', () => {
    expect(parseServerMessage('{"type":"ready","next_seq":1,"done":0,"total":2}')).toEqual({ type: 'ready', next_seq: 1, done: 0, total: 2 });
    expect(parseServerMessage('{"type":"ready","next_seq":7,"done":1,"total":2,"step":{"index":1,"action":"turn_left","text":"请缓慢向左转头"}}')).toMatchObject({
      step: { index: 1, action: 'turn_left' },
    });
    expect(parseServerMessage('{"type":"ack","seq":3}')).toEqual({ type: 'ack', seq: 3 });
    expect(parseServerMessage('{"type":"prompt","code":"TOO_FAR","text":"请靠近一点"}')).toEqual({ type: 'prompt', code: 'TOO_FAR', text: '请靠近一点' });
    expect(parseServerMessage('{"type":"prompt","code":null,"text":""}')).toEqual({ type: 'prompt', code: null, text: '' });
    expect(parseServerMessage('{"type":"step","index":0,"action":"blink","text":"请眨眨眼","done":0,"total":2}')).toMatchObject({ type: 'step', index: 0 });
    expect(parseServerMessage('{"type":"step_passed","index":0,"action":"blink","done":1,"total":2}')).toMatchObject({ type: 'step_passed', done: 1 });
    expect(parseServerMessage('{"type":"result","passed":false,"reasons":["STILL_IMAGE"],"text":"未检测到真人","return_url":"https://bank.example/back"}')).toEqual({
      type: 'result', passed: false, reasons: ['STILL_IMAGE'], text: '未检测到真人', return_url: 'https://bank.example/back',
    });
    expect(parseServerMessage('{"type":"result","passed":true,"reasons":[],"text":"通过"}')).toEqual({ type: 'result', passed: true, reasons: [], text: '通过' });
    expect(parseServerMessage('{"type":"error","code":4005,"reason":"replay"}')).toEqual({ type: 'error', code: 4005, reason: 'replay' });
    expect(parseServerMessage('{"type":"retry","attempt":2,"of":2,"reasons":["timeout"],"text":"验证未通过：未在规定时间内完成动作，请再试一次"}')).toEqual({
      type: 'retry', attempt: 2, of: 2, reasons: ['timeout'], text: '验证未通过：未在规定时间内完成动作，请再试一次',
    });
    expect(parseServerMessage('{"type":"retry","attempt":"2","of":2,"text":"x"}')).toBeNull();
  });
  it('drops what it cannot read', () => {
    for (const bad of ['not json', '[]', 'null', '{"type":"nope"}', '{"type":"ack"}', '{"type":"ready","next_seq":"1","done":0,"total":1}', '{"type":"result"}']) {
      expect(parseServerMessage(bad)).toBeNull();
    }
  });
  it('reads a challenge, with the result of a finished session', () => {
    const c = parseChallenge({
      session_id: SID, status: 'finished', suites: ['X25519-CHACHA20POLY1305-SHA256'], server_key: 'x', mode: 'action',
      steps: [{ index: 0, action: 'blink', text: '请眨眨眼' }, { bad: 1 }],
      capture: { width: 480, height: 640, jpeg_quality: 0.8, min_fps: 8, max_fps: 15 },
      limits: { max_frame_bytes: 262144, max_fps: 20, max_frames: 1200, max_total_bytes: 67108864, max_duration_s: 90 },
      expires_at: '2026-11-25T08:00:00Z', lang: 'zh-CN', ws_path: `/h5/v1/sessions/${SID}/ws`,
      result: { passed: true, reasons: [], text: '通过', return_url: 'https://b.example/' },
    });
    expect(c?.steps).toHaveLength(1);
    expect(c?.result).toEqual({ passed: true, reasons: [], text: '通过', return_url: 'https://b.example/' });
    expect(parseChallenge({ session_id: SID })).toBeNull();
  });
  it('follows only http(s) return URLs; cuts client strings', () => {
    expect(safeReturnUrl('https://bank.example/done?x=1', 'https://lg.example/h5/')).toBe('https://bank.example/done?x=1');
    expect(safeReturnUrl('javascript:alert(1)', 'https://lg.example/h5/')).toBeNull();
    expect(safeReturnUrl('data:text/html,hi', 'https://lg.example/h5/')).toBeNull();
    expect(safeReturnUrl('', 'https://lg.example/h5/')).toBeNull();
    expect(cut('x'.repeat(300))).toHaveLength(256);
  });
});

describe('close codes', () => {
  it('cover every row of the protocol document, with its reason word', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/h5-protocol.md', import.meta.url)), 'utf8');
    const rows = [...doc.matchAll(/^\| (\d{4}) \| `([a-z_]+)` \|/gm)].map((m) => [Number(m[1]), m[2]] as const);
    expect(rows.length).toBeGreaterThanOrEqual(18);
    for (const [code, word] of rows) {
      expect(CLOSE_CODES.get(code)?.reason, `close code ${code}`).toBe(word);
    }
  });
  it('map to what the page does (§5)', () => {
    const action = (c: number) => closeInfo(c).action;
    expect(action(1000)).toBe('result');
    for (const c of [1001, 1006, 1011]) expect(action(c)).toBe('reconnect');
    expect(action(4013)).toBe('stop');
    expect(closeInfo(4013).message).toBe('close_superseded');
    expect(action(4003)).toBe('stop');
    expect(closeInfo(4003).message).toBe('close_key_mismatch');
    for (const c of [4008, 4009, 4010, 4011]) expect(action(c)).toBe('ended');
    expect(closeInfo(4012).message).toBe('close_expired');
    for (const c of [4000, 4001, 4002, 4004, 4005, 4006, 4007]) expect(closeInfo(c)).toMatchObject({ action: 'stop', message: 'close_protocol' });
    expect(closeInfo(4999)).toMatchObject({ action: 'stop', message: 'close_unknown' });
    expect(closeInfo(1002).action).toBe('reconnect');
  });
  it('back off 0.5, 1, 2, 4 s and give up past 30 s in all', () => {
    let spent = 0;
    const delays: number[] = [];
    for (let i = 0; ; i++) {
      const d = backoffMs(i, spent);
      if (d === null) break;
      delays.push(d);
      spent += d;
    }
    expect(delays.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 4000]);
    expect(spent).toBeLessThanOrEqual(30_000);
    expect(spent).toBeGreaterThan(25_000);
  });
});
