// The recorded-video upload against a fake server (e2e/recording-desk.ts behind a fake fetch):
// what a person on a bad line would notice — the clip arrives whole, a cut resumes, a refused
// clip asks for another, a too-large file never leaves the phone.
import { describe, expect, it } from 'vitest';
import { RecordingDesk, type DeskScript } from '../e2e/recording-desk';
import { TEXTS } from '../src/i18n';
import { toBase64Url } from '../src/protocol/bytes';
import { parseChallenge, type RecordingOffer } from '../src/protocol/messages';
import { keyPair } from '../src/protocol/seal';
import { ClipUpload, MAX_CHUNKS_IN_FLIGHT, clipMime, clipProblem, type UploadDeps, type UploadPhase } from '../src/recording';

const SID = '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6071';
const TOKEN = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C';
const OFFER: RecordingOffer = { enabled: true, max_bytes: 1_000_000, max_s: 30, chunk_bytes: 1000 };

function clipOf(size: number, type = 'video/mp4', name = 'clip.mp4', seed = 7): Blob & { name: string } {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * seed + 3) & 0xff;
  return Object.assign(new Blob([bytes], { type }), { name });
}

class MemoryStore {
  readonly map = new Map<string, string>();
  getItem = (k: string) => this.map.get(k) ?? null;
  setItem = (k: string, v: string) => void this.map.set(k, v);
  removeItem = (k: string) => void this.map.delete(k);
}

/** The desk behind a fetch that answers a tick later (so requests overlap as on a real line). */
function setup(script: DeskScript = {}, offer = OFFER, lang: 'zh-CN' | 'en' = 'zh-CN') {
  const server = keyPair();
  const desk = new RecordingDesk(SID, server, offer, script);
  const sleeps: number[] = [];
  const phases: UploadPhase[] = [];
  const auth: string[] = [];
  const store = new MemoryStore();
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'https://lg.example');
    auth.push(new Headers(init?.headers).get('authorization') ?? '');
    expect(url.searchParams.get('lang')).toBe(lang);
    const tail = url.pathname.replace(`/h5/v1/sessions/${SID}/recording`, '');
    const body = init?.body === undefined ? new Uint8Array() : typeof init.body === 'string' ? new TextEncoder().encode(init.body) : (init.body as Uint8Array);
    await new Promise((r) => setTimeout(r, 1));
    const r = desk.handle(init?.method ?? 'GET', tail, body);
    if (r === 'cut') throw new TypeError('Failed to fetch');
    return new Response(JSON.stringify(r.json), { status: r.status, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  const deps: UploadDeps = {
    fetch,
    storage: store,
    sleep: async (ms) => void sleeps.push(ms),
    progress: (_r, _n, phase) => void (phases.at(-1) !== phase && phases.push(phase)),
  };
  const target = { sid: SID, token: TOKEN, lang, serverKey: toBase64Url(server.publicKey) };
  return { desk, deps, sleeps, phases, auth, store, target, upload: (clip: Blob, o = offer) => new ClipUpload(target, o, clip, deps) };
}

describe('the recorded-video upload', () => {
  it('sends the clip in sealed chunks, two at a time, and shows the verdict', async () => {
    const t = setup({ verdict: () => ({ passed: true, reasons: [], text: '核验通过', return_url: 'https://bank.example/back' }) });
    const clip = clipOf(4_500);
    const job = t.upload(clip);
    const outcome = await job.run();
    expect(outcome).toEqual({ kind: 'result', result: { passed: true, reasons: [], text: '核验通过', return_url: 'https://bank.example/back' } });
    // The server opened every chunk and got the clip back byte for byte.
    expect(t.desk.clips).toHaveLength(1);
    expect(Buffer.from(t.desk.clips[0]!.bytes).equals(Buffer.from(await clip.arrayBuffer()))).toBe(true);
    expect(t.desk.clips[0]!.mime).toBe('video/mp4');
    expect(t.desk.log.filter((l) => l.method === 'PUT')).toHaveLength(5);
    expect(job.maxInFlight).toBe(MAX_CHUNKS_IN_FLIGHT);
    expect(t.auth.every((a) => a === `Bearer ${TOKEN}`)).toBe(true);
    expect(t.phases).toEqual(['opening', 'uploading', 'finishing']);
    // The key is forgotten with the result.
    expect(t.store.map.size).toBe(0);
  });

  it('a cut line backs off, asks what arrived (GET) and sends only the rest', async () => {
    const t = setup({ cutPuts: [3, 4, 5] });
    const outcome = await t.upload(clipOf(6_000)).run();
    expect(outcome.kind).toBe('result');
    expect(t.sleeps.length).toBeGreaterThanOrEqual(1);
    expect(t.sleeps[0]).toBe(500);
    expect(t.desk.log.some((l) => l.method === 'GET' && l.status === 200)).toBe(true);
    expect(t.phases).toContain('retrying');
    // Every chunk arrived once: 6 chunks, plus the ones cut and sent again.
    const ok = t.desk.log.filter((l) => l.method === 'PUT' && l.status === 200).map((l) => l.tail);
    expect(new Set(ok).size).toBe(6);
    expect(ok.length).toBe(6);
    expect(t.desk.clips[0]!.bytes.length).toBe(6_000);
  });

  it('a reload resumes the same clip with the kept key: the server says what it has (200), only the rest is sent', async () => {
    const t = setup({ cutAfter: 2 });
    const clip = clipOf(8_000);
    // The line dies for good after two chunks: the page gives up for now, keeping the key.
    const first = await t.upload(clip).run();
    expect(first).toMatchObject({ kind: 'failed', error: { status: 0 } });
    expect(t.store.map.size).toBe(1);
    const stored = t.desk.upload!.parts.size;
    expect(stored).toBe(2);
    // The same clip again (picked after a reload): same client key, 200 with `received`.
    t.desk.script.cutAfter = undefined;
    const before = t.desk.log.length;
    const second = await t.upload(clip).run();
    expect(second.kind).toBe('result');
    const again = t.desk.log.slice(before);
    expect(again[0]).toEqual({ method: 'POST', tail: '', status: 200 });
    expect(again.filter((l) => l.method === 'PUT')).toHaveLength(8 - stored);
    expect(Buffer.from(t.desk.clips[0]!.bytes).equals(Buffer.from(await clip.arrayBuffer()))).toBe(true);
  });

  it('another clip gets a fresh key (a new upload, 201)', async () => {
    const t = setup({ cutAfter: 1 });
    await t.upload(clipOf(3_000)).run();
    const firstKey = t.desk.upload!.clientKey;
    t.desk.script.cutAfter = undefined;
    const before = t.desk.log.length;
    expect((await t.upload(clipOf(3_000, 'video/mp4', 'b.mp4', 11)).run()).kind).toBe('result');
    expect(t.desk.log[before]).toEqual({ method: 'POST', tail: '', status: 201 });
    expect(t.desk.clips[0]!.bytes[1]).toBe((11 + 3) & 0xff);
    expect(firstKey).not.toBe('');
  });

  it('a clip the server cannot decode (422 on finish) asks for another recording, with the server message', async () => {
    const t = setup({ finishFirst: [422] }, OFFER, 'en');
    const outcome = await t.upload(clipOf(2_500)).run();
    expect(outcome).toEqual({
      kind: 'record_again',
      error: { status: 422, code: 'VALIDATION_FAILED', message: 'the video cannot be decoded', detail: { reason: 'no video stream' } },
    });
    expect(t.store.map.size).toBe(0);
    // Recording again works: a new upload, then the verdict.
    expect((await t.upload(clipOf(2_500, 'video/webm', 'again.webm', 5)).run()).kind).toBe('result');
    expect(t.desk.clips.map((c) => c.mime)).toEqual(['video/mp4', 'video/webm']);
  });

  it('finish that finds chunks missing (409) sends them again; a busy server (503) is retried', async () => {
    const t = setup({ loseAtFinish: [1, 3], finishFirst: [503] });
    const outcome = await t.upload(clipOf(4_000)).run();
    expect(outcome.kind).toBe('result');
    const puts = t.desk.log.filter((l) => l.method === 'PUT').map((l) => l.tail);
    expect(puts.slice(4).sort()).toEqual(['/1', '/3']);
    expect(t.desk.log.filter((l) => l.tail === '/finish').map((l) => l.status)).toEqual([409, 503, 200]);
  });

  it('a decided session (409 with the result) shows that result; refusals carry the message in the link language', async () => {
    const t = setup();
    t.desk.result = { passed: false, reasons: ['STILL_IMAGE'], text: '未检测到真人' };
    expect(await t.upload(clipOf(100)).run()).toEqual({ kind: 'result', result: { passed: false, reasons: ['STILL_IMAGE'], text: '未检测到真人' } });
    const off = setup({}, { ...OFFER, enabled: false });
    expect(await off.upload(clipOf(100)).run()).toMatchObject({ kind: 'failed', error: { status: 403, code: 'FORBIDDEN', message: '该场景未开启视频核验' } });
    const big = setup({}, { ...OFFER, max_bytes: 500 }, 'en');
    // The page's offer said more than the server allows: the server's 413 in English.
    expect(await big.upload(clipOf(900), OFFER).run()).toMatchObject({ kind: 'failed', error: { status: 413, message: 'the video is larger than allowed' } });
  });

  it('refuses a file over max_bytes or not a video before sending anything', () => {
    expect(clipProblem({ size: 1_000_001, type: 'video/mp4' }, OFFER)).toBe('clip_too_large');
    expect(clipProblem({ size: 1_000_000, type: 'video/mp4' }, OFFER)).toBeNull();
    expect(clipProblem({ size: 10, type: 'image/jpeg', name: 'me.jpg' }, OFFER)).toBe('clip_not_video');
    expect(clipProblem({ size: 10, type: 'text/plain', name: 'x.mp4' }, OFFER)).toBe('clip_not_video');
    expect(clipProblem({ size: 0, type: 'video/webm' }, OFFER)).toBe('clip_empty');
    // No type from the picker: the file ending says what it is.
    expect(clipMime({ type: '', name: 'VID_2026.MOV' })).toBe('video/quicktime');
    expect(clipMime({ type: 'video/webm;codecs=vp8' })).toBe('video/webm');
    expect(clipMime({ type: '', name: 'notes.txt' })).toBeNull();
    const t = setup();
    expect(() => t.upload(clipOf(1_000_001))).toThrow('clip_too_large');
    expect(t.desk.log).toEqual([]);
    // The message says how large it is and what the limit is, in both languages.
    expect(TEXTS['zh-CN'].clip_too_large('25.3', 20)).toContain('25.3 MB');
    expect(TEXTS.en.clip_too_large('25.3', 20)).toContain('limit is 20 MB');
  });

  it('the challenge carries the offer only when it is complete', () => {
    const base = {
      session_id: SID, status: 'pending', suites: ['X25519-CHACHA20POLY1305-SHA256'], server_key: 'x', mode: 'action', steps: [],
      capture: { width: 480, height: 640, min_fps: 8, max_fps: 15 }, ws_path: '/ws',
    };
    expect(parseChallenge({ ...base, recording: { enabled: true, max_bytes: 20971520, max_s: 30, chunk_bytes: 262144 } })?.recording).toEqual({
      enabled: true, max_bytes: 20971520, max_s: 30, chunk_bytes: 262144,
    });
    expect(parseChallenge({ ...base, recording: { enabled: true, max_bytes: 0, max_s: 30, chunk_bytes: 262144 } })?.recording).toBeUndefined();
    expect(parseChallenge(base)?.recording).toBeUndefined();
  });
});
