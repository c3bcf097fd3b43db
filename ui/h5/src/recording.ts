// The recorded-video upload (docs/h5-protocol.md §7): open an upload, send the clip in sealed
// chunks (at most 2 in flight), ride out a cut line with back-off and a GET of what the server
// has, then finish and get the verdict. No DOM: fetch, storage and sleep are passed in, so the
// whole state machine is unit-tested with a fake server.

import { sha256 } from '@noble/hashes/sha2.js';
import { fromBase64Url, toBase64Url, toHex } from './protocol/bytes';
import { backoffMs } from './protocol/close';
import { isResult, normaliseResult, type Lang, type PageResult, type RecordingOffer } from './protocol/messages';
import { chunkCount, chunkRange, clientRecordingKey, sealChunk } from './protocol/recording';
import { SUITE, keyPair, type KeyPair } from './protocol/seal';

/** Chunks on the wire at once: a phone's uplink stays busy without a queue of stale requests. */
export const MAX_CHUNKS_IN_FLIGHT = 2;
/** Seconds of back-off the page spends on one cut before it gives up (the person may retry). */
const RETRY_BUDGET_MS = 60_000;
/** Rounds of "finish says chunks are missing, send them" before it is called a failure. */
const MAX_FINISH_ROUNDS = 3;

/** File endings a phone's camera app or gallery gives videos, for files without a MIME type. */
const VIDEO_EXT: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  '3gp': 'video/3gpp',
  '3g2': 'video/3gpp2',
  avi: 'video/x-msvideo',
};

/** A clip as the page has it: a recorded Blob or a picked File. */
export interface Clip {
  size: number;
  type: string;
  name?: string;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export type ClipProblem = 'clip_empty' | 'clip_not_video' | 'clip_too_large';

/** The clip's MIME type: its own when it is video/*, else one from its file ending, else null. */
export function clipMime(clip: Pick<Clip, 'type' | 'name'>): string | null {
  const type = clip.type.split(';')[0]!.trim().toLowerCase();
  if (type.startsWith('video/')) return type;
  // Some Android pickers give no type (or application/octet-stream) for a fresh recording.
  if (type && type !== 'application/octet-stream') return null;
  const ext = /\.([a-z0-9]+)$/i.exec(clip.name ?? '')?.[1]?.toLowerCase();
  return ext ? (VIDEO_EXT[ext] ?? null) : null;
}

/** Why the page refuses a clip before sending any of it, or null. */
export function clipProblem(clip: Pick<Clip, 'size' | 'type' | 'name'>, offer: Pick<RecordingOffer, 'max_bytes'>): ClipProblem | null {
  if (!clipMime(clip)) return 'clip_not_video';
  if (clip.size <= 0) return 'clip_empty';
  if (clip.size > offer.max_bytes) return 'clip_too_large';
  return null;
}

/** A refusal from the server (its JSON error body), or status 0 when the network gave up. */
export interface UploadError {
  status: number;
  code: string;
  /** the body's message in the link's language (message or message_en); '' when there is none */
  message: string;
  detail?: unknown;
}

export type UploadOutcome =
  /** the verdict (passed or not): show the end screen */
  | { kind: 'result'; result: PageResult }
  /** the server could not use the clip (422 on finish): the upload is gone, record again */
  | { kind: 'record_again'; error: UploadError }
  /** anything else that stops the upload */
  | { kind: 'failed'; error: UploadError };

export type UploadPhase = 'opening' | 'uploading' | 'retrying' | 'finishing';

export interface UploadDeps {
  fetch: typeof fetch;
  /** where the upload's key waits for a reload (the tab's sessionStorage); null = nowhere */
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  sleep?: (ms: number) => Promise<void>;
  /** a fresh X25519 key pair (tests pass a fixed one) */
  newKey?: () => KeyPair;
  /** chunks the server has, of how many; and what is going on */
  progress?: (received: number, chunks: number, phase: UploadPhase) => void;
}

export interface UploadTarget {
  sid: string;
  token: string;
  lang: Lang;
  /** the challenge's server_key (base64url) */
  serverKey: string;
}

interface KeptUpload {
  key: string;
  size: number;
  chunks: number;
  /** SHA-256 of the clip's first chunk: the same clip picked again after a reload */
  fp: string;
}

const storageName = (sid: string) => `livegate-rec-${sid.toLowerCase()}`;

/** Forgets a kept upload key (the session has its result, or the upload is gone). */
export function forgetUpload(storage: UploadDeps['storage'], sid: string): void {
  try {
    storage?.removeItem(storageName(sid));
  } catch {
    /* storage disabled */
  }
}

class Stop extends Error {
  constructor(readonly outcome: UploadOutcome) {
    super(outcome.kind);
  }
}

/** A cut line or a server that is briefly unable: back off, ask what it has, go on. */
class Cut extends Error {}

/** One clip's upload, from open to verdict. */
export class ClipUpload {
  /** the most chunk requests ever on the wire at once (tests check the cap) */
  maxInFlight = 0;
  private inFlight = 0;
  private received = new Set<number>();
  private readonly chunks: number;
  private readonly chunkBytes: number;
  private readonly mime: string;
  private key!: KeyPair;
  private sealKey!: Uint8Array;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly target: UploadTarget,
    offer: RecordingOffer,
    private readonly clip: Clip,
    private readonly deps: UploadDeps,
  ) {
    const problem = clipProblem(clip, offer);
    if (problem) throw new RangeError(problem);
    this.chunkBytes = offer.chunk_bytes;
    this.chunks = chunkCount(clip.size, offer.chunk_bytes);
    this.mime = clipMime(clip)!;
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Runs the upload to its end; never throws. */
  async run(): Promise<UploadOutcome> {
    try {
      await this.chooseKey();
      await this.open();
      for (let round = 0; ; round++) {
        await this.sendMissing();
        const outcome = await this.finish();
        if (outcome) return outcome;
        if (round + 1 >= MAX_FINISH_ROUNDS) {
          return { kind: 'failed', error: { status: 409, code: 'CONFLICT', message: '' } };
        }
      }
    } catch (e) {
      if (e instanceof Stop) {
        // The key stays for a retry of the same clip when the line or the server gave up for now.
        const forNow = e.outcome.kind === 'failed' && (e.outcome.error.status === 0 || e.outcome.error.status >= 500);
        if (!forNow) forgetUpload(this.deps.storage, this.target.sid);
        return e.outcome;
      }
      return { kind: 'failed', error: { status: 0, code: 'INTERNAL', message: '' } };
    }
  }

  /** The kept key when this is the same clip again (a reload, a retry), else a fresh one. */
  private async chooseKey(): Promise<void> {
    const first = chunkRange(0, this.clip.size, this.chunkBytes);
    const fp = toHex(sha256(new Uint8Array(await this.clip.slice(first.start, first.end).arrayBuffer())));
    let kept: KeptUpload | null = null;
    try {
      kept = JSON.parse(this.deps.storage?.getItem(storageName(this.target.sid)) ?? 'null') as KeptUpload | null;
    } catch {
      kept = null;
    }
    let key: KeyPair | null = null;
    if (kept && kept.size === this.clip.size && kept.chunks === this.chunks && kept.fp === fp) {
      try {
        const priv = fromBase64Url(kept.key);
        if (priv.length === 32) key = keyPair(priv);
      } catch {
        key = null;
      }
    }
    this.key = key ?? (this.deps.newKey ?? keyPair)();
    this.sealKey = clientRecordingKey(this.target.sid, this.key, fromBase64Url(this.target.serverKey));
    const keep: KeptUpload = { key: toBase64Url(this.key.privateKey), size: this.clip.size, chunks: this.chunks, fp };
    try {
      this.deps.storage?.setItem(storageName(this.target.sid), JSON.stringify(keep));
    } catch {
      /* storage disabled: a reload starts a new upload */
    }
  }

  private path(tail = ''): string {
    return `/h5/v1/sessions/${encodeURIComponent(this.target.sid)}/recording${tail}?lang=${encodeURIComponent(this.target.lang)}`;
  }

  /** One request; a network error is status 0. */
  private async request(method: string, tail: string, body?: BodyInit, type?: string): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await this.deps.fetch(this.path(tail), {
        method,
        headers: {
          Authorization: `Bearer ${this.target.token}`,
          Accept: 'application/json',
          ...(type ? { 'Content-Type': type } : {}),
        },
        body,
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch {
      return { status: 0, json: null };
    }
    const json: unknown = await res.json().catch(() => null);
    return { status: res.status, json };
  }

  private error(status: number, json: unknown): UploadError {
    const b = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    const message = this.target.lang === 'en' ? str(b.message_en) || str(b.message) : str(b.message) || str(b.message_en);
    return { status, code: str(b.code) || `HTTP_${status}`, message, ...(b.detail !== undefined ? { detail: b.detail } : {}) };
  }

  private fail(status: number, json: unknown): never {
    throw new Stop({ kind: 'failed', error: this.error(status, json) });
  }

  private progress(phase: UploadPhase): void {
    this.deps.progress?.(this.received.size, this.chunks, phase);
  }

  /** Takes the server's list of stored chunks. */
  private take(json: unknown): void {
    const got = (json as { received?: unknown } | null)?.received;
    this.received = new Set(Array.isArray(got) ? got.filter((i): i is number => Number.isInteger(i) && i >= 0 && i < this.chunks) : []);
  }

  /** A request retried through cuts and brief server trouble (back-off 0.5, 1, 2, 4, 4… s). */
  private async withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    let tries = 0;
    let spent = 0;
    for (;;) {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof Cut)) throw e;
        const delay = backoffMs(tries, spent, RETRY_BUDGET_MS);
        if (delay === null) throw new Stop({ kind: 'failed', error: { status: 0, code: 'NETWORK', message: '' } });
        tries += 1;
        spent += delay;
        this.progress('retrying');
        await this.sleep(delay);
      }
    }
  }

  private static retriable(status: number): boolean {
    return status === 0 || status === 408 || status === 429 || status === 502 || status === 503 || status === 504;
  }

  /** POST …/recording: a new upload (201), or the same one resumed (200, with what it has). */
  private async open(): Promise<void> {
    this.progress('opening');
    await this.withRetry(async () => {
      const body = JSON.stringify({ suite: SUITE, client_key: toBase64Url(this.key.publicKey), size: this.clip.size, chunks: this.chunks, mime: this.mime });
      const r = await this.request('POST', '', body, 'application/json');
      if (ClipUpload.retriable(r.status)) throw new Cut();
      if (r.status === 409) this.alreadyDecided(r.json);
      if (r.status !== 200 && r.status !== 201) this.fail(r.status, r.json);
      this.take(r.json);
    });
    this.progress('uploading');
  }

  /** GET …/recording after a cut: which chunks arrived; reopened when the server has no upload. */
  private async resync(): Promise<void> {
    const r = await this.request('GET', '');
    if (ClipUpload.retriable(r.status)) throw new Cut();
    if (r.status === 404) return this.open();
    if (r.status !== 200) this.fail(r.status, r.json);
    this.take(r.json);
    this.progress('uploading');
  }

  /** Sends every chunk the server lacks, two at a time; a cut backs off, resyncs and goes on. */
  private async sendMissing(): Promise<void> {
    let cuts = 0;
    let spent = 0;
    for (;;) {
      const queue = [...Array(this.chunks).keys()].filter((i) => !this.received.has(i));
      if (queue.length === 0) return;
      let cut = false;
      const worker = async () => {
        while (!cut) {
          const index = queue.shift();
          if (index === undefined) return;
          try {
            await this.put(index);
            cuts = 0;
            spent = 0;
          } catch (e) {
            if (!(e instanceof Cut)) throw e;
            cut = true;
          }
        }
      };
      await Promise.all(Array.from({ length: MAX_CHUNKS_IN_FLIGHT }, worker));
      if (!cut) continue;
      const delay = backoffMs(cuts, spent, RETRY_BUDGET_MS);
      if (delay === null) throw new Stop({ kind: 'failed', error: { status: 0, code: 'NETWORK', message: '' } });
      cuts += 1;
      spent += delay;
      this.progress('retrying');
      await this.sleep(delay);
      try {
        await this.resync();
      } catch (e) {
        if (!(e instanceof Cut)) throw e;
        // Still cut: the next round backs off longer.
      }
    }
  }

  private async put(index: number): Promise<void> {
    const { start, end } = chunkRange(index, this.clip.size, this.chunkBytes);
    const plain = new Uint8Array(await this.clip.slice(start, end).arrayBuffer());
    const sealed = sealChunk(this.sealKey, this.target.sid, index, this.chunks, plain);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let r;
    try {
      r = await this.request('PUT', `/${index}`, sealed as unknown as BodyInit, 'application/octet-stream');
    } finally {
      this.inFlight -= 1;
    }
    // 404: the upload is gone (replaced, or the server lost it): resync reopens it.
    if (ClipUpload.retriable(r.status) || r.status === 404) throw new Cut();
    if (r.status !== 200) this.fail(r.status, r.json);
    this.received.add(index);
    this.progress('uploading');
  }

  /** 409 with a result: the session was decided (by another tab, or a finish whose answer was lost). */
  private alreadyDecided(json: unknown): void {
    const detail = (json as { detail?: { result?: unknown } } | null)?.detail;
    if (detail && isResult(detail.result)) throw new Stop({ kind: 'result', result: normaliseResult(detail.result) });
  }

  /** POST …/recording/finish: the verdict, or null when chunks are missing (they are sent again). */
  private async finish(): Promise<UploadOutcome | null> {
    this.progress('finishing');
    return this.withRetry(async () => {
      const r = await this.request('POST', '/finish');
      if (ClipUpload.retriable(r.status)) throw new Cut();
      if (r.status === 200) {
        const result = (r.json as { result?: unknown } | null)?.result;
        if (!isResult(result)) this.fail(r.status, r.json);
        throw new Stop({ kind: 'result', result: normaliseResult(result) });
      }
      if (r.status === 422) throw new Stop({ kind: 'record_again', error: this.error(r.status, r.json) });
      if (r.status === 409) {
        this.alreadyDecided(r.json);
        const missing = (r.json as { detail?: { missing?: unknown } } | null)?.detail?.missing;
        if (Array.isArray(missing)) {
          for (const i of missing) this.received.delete(i as number);
          this.progress('uploading');
          return null;
        }
      }
      if (r.status === 404) {
        // The upload went away between the last chunk and finish: open it again and resend.
        await this.open();
        return null;
      }
      return this.fail(r.status, r.json);
    });
  }
}
