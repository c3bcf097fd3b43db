// A stand-in for the server's recorded-video endpoints (docs/h5-protocol.md §7), for the unit
// tests (behind a fake fetch) and the mock server (behind Node's http): it opens every chunk with
// the server's key, so a wrongly sealed chunk is refused as the real server would refuse it.
import { fromBase64Url } from '../src/protocol/bytes';
import type { PageResult, RecordingOffer } from '../src/protocol/messages';
import { chunkCount, openChunk, recordingKey } from '../src/protocol/recording';
import { SUITE, type KeyPair } from '../src/protocol/seal';

export interface DeskReply {
  status: number;
  json: unknown;
}

export interface DeskScript {
  /** the clip's verdict (default: passed) */
  verdict?: (clip: Uint8Array, mime: string) => PageResult;
  /** statuses finish answers before it decides, in order (e.g. [422], [503]) */
  finishFirst?: number[];
  /** cut the line (no answer) on these PUTs, counted from 1 over the whole desk */
  cutPuts?: number[];
  /** cut the line on the first `times` PUTs of chunk `index` (a browser retries a cut PUT once by itself) */
  cutChunk?: { index: number; times: number };
  /** cut the line on every PUT after this many (a line that dies for good) */
  cutAfter?: number;
  /** forget these chunks at the first finish (as if a disk lost them): finish says they are missing */
  loseAtFinish?: number[];
}

interface OpenUpload {
  clientKey: string;
  size: number;
  chunks: number;
  mime: string;
  key: Uint8Array;
  parts: Map<number, Uint8Array>;
}

const err = (status: number, code: string, message: string, message_en: string, detail: unknown = null): DeskReply => ({
  status,
  json: { code, message, message_en, detail },
});

export class RecordingDesk {
  upload: OpenUpload | null = null;
  result: PageResult | null = null;
  /** every request: method, path tail and status ('cut' for none) */
  readonly log: { method: string; tail: string; status: number | 'cut' }[] = [];
  /** the clips finish decoded (opened and joined), in order */
  readonly clips: { bytes: Uint8Array; mime: string }[] = [];
  private puts = 0;
  private finishes = 0;

  constructor(
    readonly sid: string,
    readonly server: KeyPair,
    public offer: RecordingOffer,
    public script: DeskScript = {},
  ) {}

  /** One request to `/h5/v1/sessions/{sid}/recording{tail}`; 'cut' = the line dies without an answer. */
  handle(method: string, tail: string, body: Uint8Array): DeskReply | 'cut' {
    const r = this.route(method, tail, body);
    this.log.push({ method, tail, status: r === 'cut' ? 'cut' : r.status });
    return r;
  }

  private route(method: string, tail: string, body: Uint8Array): DeskReply | 'cut' {
    if (!this.offer.enabled) return err(403, 'FORBIDDEN', '该场景未开启视频核验', 'recording is not enabled for this scene');
    if (this.result && !(method === 'GET' && tail === '')) {
      return err(409, 'CONFLICT', '会话已有结果', 'the session already has a result', { result: this.result });
    }
    if (method === 'POST' && tail === '') return this.open(body);
    if (method === 'GET' && tail === '') {
      return this.upload ? { status: 200, json: this.state() } : err(404, 'NOT_FOUND', '没有进行中的上传', 'no upload is open');
    }
    const put = /^\/(\d+)$/.exec(tail);
    if (method === 'PUT' && put) {
      this.puts += 1;
      if (this.script.cutPuts?.includes(this.puts)) return 'cut';
      if (this.script.cutAfter !== undefined && this.puts > this.script.cutAfter) return 'cut';
      const cc = this.script.cutChunk;
      if (cc && cc.index === Number(put[1]) && cc.times > 0) {
        cc.times -= 1;
        return 'cut';
      }
      return this.put(Number(put[1]), body);
    }
    if (method === 'POST' && tail === '/finish') return this.finish();
    return err(404, 'NOT_FOUND', '找不到', 'not found');
  }

  private state() {
    const u = this.upload!;
    return { chunks: u.chunks, chunk_bytes: this.offer.chunk_bytes, received: [...u.parts.keys()].sort((a, b) => a - b) };
  }

  private open(body: Uint8Array): DeskReply {
    let req: { suite?: unknown; client_key?: unknown; size?: unknown; chunks?: unknown; mime?: unknown };
    try {
      req = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return err(422, 'VALIDATION_FAILED', '请求格式错误', 'bad request body');
    }
    const { suite, client_key, size, chunks, mime } = req;
    if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) return err(422, 'VALIDATION_FAILED', '大小无效', 'size must be positive');
    if (size > this.offer.max_bytes) {
      return err(413, 'PAYLOAD_TOO_LARGE', '视频超过大小上限', 'the video is larger than allowed', { max_bytes: this.offer.max_bytes });
    }
    if (suite !== SUITE || typeof client_key !== 'string' || typeof mime !== 'string' || !mime.startsWith('video/')) {
      return err(422, 'VALIDATION_FAILED', '参数无效', 'bad suite, key or mime');
    }
    if (chunks !== chunkCount(size, this.offer.chunk_bytes)) return err(422, 'VALIDATION_FAILED', '分片数不对', 'chunks does not match size');
    const u = this.upload;
    if (u && u.clientKey === client_key && u.size === size && u.chunks === chunks) return { status: 200, json: this.state() };
    let key: Uint8Array;
    try {
      const ck = fromBase64Url(client_key);
      key = recordingKey(this.sid, this.server.privateKey, ck, ck, this.server.publicKey);
    } catch {
      return err(422, 'VALIDATION_FAILED', '密钥无效', 'bad client key');
    }
    this.upload = { clientKey: client_key, size, chunks, mime, key, parts: new Map() };
    return { status: 201, json: this.state() };
  }

  private put(index: number, body: Uint8Array): DeskReply {
    const u = this.upload;
    if (!u) return err(404, 'NOT_FOUND', '没有进行中的上传', 'no upload is open');
    if (index >= u.chunks) return err(422, 'VALIDATION_FAILED', '分片序号无效', 'index out of range');
    const want = Math.min(u.size, (index + 1) * this.offer.chunk_bytes) - index * this.offer.chunk_bytes + 16;
    if (body.length !== want) return err(422, 'VALIDATION_FAILED', '分片长度不对', 'wrong chunk length');
    try {
      u.parts.set(index, openChunk(u.key, this.sid, index, u.chunks, body));
    } catch {
      return err(422, 'VALIDATION_FAILED', '分片无法解密', 'the chunk does not open');
    }
    return { status: 200, json: { received: u.parts.size } };
  }

  private finish(): DeskReply {
    const u = this.upload;
    if (!u) return err(404, 'NOT_FOUND', '没有进行中的上传', 'no upload is open');
    this.finishes += 1;
    if (this.finishes === 1) for (const i of this.script.loseAtFinish ?? []) u.parts.delete(i);
    const missing = [...Array(u.chunks).keys()].filter((i) => !u.parts.has(i));
    if (missing.length > 0) return err(409, 'CONFLICT', '分片不全', 'chunks are missing', { missing });
    const bytes = new Uint8Array(u.size);
    for (const [i, p] of u.parts) bytes.set(p, i * this.offer.chunk_bytes);
    this.clips.push({ bytes, mime: u.mime });
    const first = this.script.finishFirst?.shift();
    if (first === 422) {
      this.upload = null;
      return err(422, 'VALIDATION_FAILED', '视频无法解码', 'the video cannot be decoded', { reason: 'no video stream' });
    }
    if (first) return err(first, 'UNAVAILABLE', '服务暂不可用', 'service unavailable');
    this.upload = null;
    this.result = (this.script.verdict ?? (() => ({ passed: true, reasons: [], text: '核验通过' })))(bytes, u.mime);
    return { status: 200, json: { result: this.result } };
  }
}
