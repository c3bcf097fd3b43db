// The JSON of the challenge and the WebSocket (docs/h5-protocol.md §2, §3). Pure.

export type Lang = 'zh-CN' | 'en';

export interface StepView {
  index: number;
  action: string;
  text: string;
}

export interface Capture {
  width: number;
  height: number;
  jpeg_quality: number;
  min_fps: number;
  max_fps: number;
}

export interface Limits {
  max_frame_bytes: number;
  max_fps: number;
  max_frames: number;
  max_total_bytes: number;
  max_duration_s: number;
}

export interface PageResult {
  passed: boolean;
  reasons: string[];
  text: string;
  return_url?: string | null;
}

/** The challenge's `recording`: whether the recorded-video fallback may run, and its limits (§7). */
export interface RecordingOffer {
  enabled: boolean;
  /** largest clip, bytes */
  max_bytes: number;
  /** longest clip, seconds */
  max_s: number;
  /** plaintext bytes per chunk (the last chunk is shorter) */
  chunk_bytes: number;
}

/** The challenge's `fallback`: the methods the page may use, in order, and what makes it step down. */
export interface Fallback {
  /** `action` (real time), `recording` (a recorded clip, §7), in the order the page steps down */
  order: string[];
  triggers: {
    /** step down when the device cannot run the method (no camera access, no WebSocket, old WebView) */
    missing_capability: boolean;
    /** step down after this many connections in a row fail before `ready` */
    failures: number;
    /** step down before real time when the browser reports a 2G network */
    poor_network: boolean;
  };
}

export interface Challenge {
  session_id: string;
  status: 'pending' | 'running' | 'finished';
  suites: string[];
  server_key: string;
  mode: string;
  steps: StepView[];
  capture: Capture;
  limits: Limits;
  expires_at: string;
  lang: string;
  ws_path: string;
  result?: PageResult;
  /** absent from servers without the fallback: the page then never offers it */
  recording?: RecordingOffer;
  /** absent from servers before the rule: `fallbackOf` gives what the page did then */
  fallback?: Fallback;
}

/** The one error body of the HTTP API. */
export interface ErrorBody {
  code: string;
  message: string;
  message_en?: string;
  detail?: unknown;
}

export interface ReadyMsg {
  type: 'ready';
  next_seq: number;
  done: number;
  total: number;
  step?: StepView;
}
export interface AckMsg {
  type: 'ack';
  seq: number;
}
export interface PromptMsg {
  type: 'prompt';
  code: string | null;
  text: string;
}
export interface StepMsg {
  type: 'step';
  index: number;
  action: string;
  text: string;
  done: number;
  total: number;
}
export interface StepPassedMsg {
  type: 'step_passed';
  index: number;
  action: string;
  done: number;
  total: number;
}
/** An attempt ran out of time and another begins; its steps follow as `step` messages. */
export interface RetryMsg {
  type: 'retry';
  attempt: number;
  of: number;
  reasons: string[];
  text: string;
}
export interface ResultMsg extends PageResult {
  type: 'result';
}
/** The face has settled: flash the challenge's colour sequence now (colour scenes). */
export interface FlashMsg {
  type: 'flash';
  text: string;
}
export interface ErrorMsg {
  type: 'error';
  code: number;
  reason: string;
}

export type ServerMessage = ReadyMsg | AckMsg | PromptMsg | StepMsg | StepPassedMsg | RetryMsg | ResultMsg | ErrorMsg | FlashMsg;

export interface ClientFacts {
  user_agent?: string;
  camera_label?: string;
  track?: { width?: number; height?: number; frame_rate?: number; facing_mode?: string };
  platform?: { wechat: boolean; ios_webview: boolean; android: boolean };
  screen?: { width: number; height: number; dpr: number };
}

export interface HelloMsg {
  type: 'hello';
  suite: string;
  client_key: string;
  resume: boolean;
  client: ClientFacts;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function isStep(v: unknown): v is StepView {
  return isObj(v) && isNum(v.index) && isStr(v.action) && isStr(v.text);
}

/** Reads one server text frame; null for anything that is not a known, well-formed message. */
export function parseServerMessage(text: string): ServerMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(v) || !isStr(v.type)) return null;
  switch (v.type) {
    case 'ready':
      if (!isNum(v.next_seq) || !isNum(v.done) || !isNum(v.total)) return null;
      if (v.step !== undefined && v.step !== null && !isStep(v.step)) return null;
      return {
        type: 'ready',
        next_seq: v.next_seq,
        done: v.done,
        total: v.total,
        ...(isStep(v.step) ? { step: v.step } : {}),
      };
    case 'ack':
      return isNum(v.seq) ? { type: 'ack', seq: v.seq } : null;
    case 'prompt':
      if (!(v.code === null || isStr(v.code))) return null;
      return { type: 'prompt', code: v.code, text: isStr(v.text) ? v.text : '' };
    case 'step':
      if (!isStep(v) || !isNum(v.done) || !isNum(v.total)) return null;
      return { type: 'step', index: v.index, action: v.action, text: v.text, done: v.done, total: v.total };
    case 'step_passed':
      if (!isNum(v.index) || !isStr(v.action) || !isNum(v.done) || !isNum(v.total)) return null;
      return { type: 'step_passed', index: v.index, action: v.action, done: v.done, total: v.total };
    case 'retry':
      if (!isNum(v.attempt) || !isNum(v.of) || !isStr(v.text)) return null;
      return {
        type: 'retry',
        attempt: v.attempt,
        of: v.of,
        reasons: Array.isArray(v.reasons) ? v.reasons.filter(isStr) : [],
        text: v.text,
      };
    case 'result':
      return isResult(v) ? { type: 'result', ...normaliseResult(v) } : null;
    case 'flash':
      return { type: 'flash', text: isStr(v.text) ? v.text : '' };
    case 'error':
      return isNum(v.code) ? { type: 'error', code: v.code, reason: isStr(v.reason) ? v.reason : '' } : null;
    default:
      return null;
  }
}

export function isResult(v: unknown): v is PageResult {
  return isObj(v) && typeof v.passed === 'boolean';
}

export function normaliseResult(v: PageResult): PageResult {
  const r: PageResult = {
    passed: v.passed,
    reasons: Array.isArray(v.reasons) ? v.reasons.filter(isStr) : [],
    text: isStr(v.text) ? v.text : '',
  };
  if (isStr(v.return_url) && v.return_url) r.return_url = v.return_url;
  return r;
}

/** Checks a challenge body enough that the page can rely on it. */
export function parseChallenge(v: unknown): Challenge | null {
  if (!isObj(v)) return null;
  const c = v.capture;
  if (!isStr(v.session_id) || !isStr(v.server_key) || !isStr(v.ws_path) || !Array.isArray(v.suites)) return null;
  if (!isObj(c) || !isNum(c.width) || !isNum(c.height) || !isNum(c.min_fps) || !isNum(c.max_fps)) return null;
  const status = v.status === 'running' || v.status === 'finished' ? v.status : 'pending';
  const { recording: rawRecording, fallback: rawFallback, ...ch } = v as unknown as Challenge;
  const recording = parseRecording(rawRecording);
  const fallback = parseFallback(rawFallback);
  return {
    ...ch,
    status,
    steps: Array.isArray(v.steps) ? v.steps.filter(isStep) : [],
    capture: { ...ch.capture, jpeg_quality: isNum(c.jpeg_quality) ? c.jpeg_quality : 0.8 },
    ...(isResult(v.result) ? { result: normaliseResult(v.result) } : {}),
    ...(recording ? { recording } : {}),
    ...(fallback ? { fallback } : {}),
  };
}

/** The challenge's `fallback`, when it is complete and sane; null otherwise (the page's old ways). */
export function parseFallback(v: unknown): Fallback | null {
  if (!isObj(v) || !Array.isArray(v.order) || !v.order.every(isStr) || !isObj(v.triggers)) return null;
  const t = v.triggers;
  if (typeof t.missing_capability !== 'boolean' || typeof t.poor_network !== 'boolean') return null;
  if (!isNum(t.failures) || !Number.isInteger(t.failures) || t.failures < 1) return null;
  return {
    order: [...v.order],
    triggers: { missing_capability: t.missing_capability, failures: t.failures, poor_network: t.poor_network },
  };
}

/** The challenge's `recording`, when it is complete and sane; null otherwise (no fallback). */
export function parseRecording(v: unknown): RecordingOffer | null {
  if (!isObj(v) || typeof v.enabled !== 'boolean') return null;
  const pos = (n: unknown): n is number => isNum(n) && Number.isInteger(n) && n > 0;
  if (!pos(v.max_bytes) || !pos(v.max_s) || !pos(v.chunk_bytes)) return null;
  return { enabled: v.enabled, max_bytes: v.max_bytes, max_s: v.max_s, chunk_bytes: v.chunk_bytes };
}

/** Every string of `client` is cut to 256 characters (the server does too). */
export function cut(s: string | undefined, n = 256): string | undefined {
  return s === undefined ? undefined : s.slice(0, n);
}

/** Only http(s) return URLs are followed (never javascript: and the like). */
export function safeReturnUrl(url: string | null | undefined, base: string): string | null {
  if (!url) return null;
  try {
    const u = new URL(url, base);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}
