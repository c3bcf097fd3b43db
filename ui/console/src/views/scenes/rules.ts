// The scene rules form (docs/scenes.md) <-> the rules JSON. A field left empty is left out of the
// JSON, so the server's default applies; fields the form does not know travel in `advanced`.
import type { SceneRules } from '@/api/scenes';

export const ACTIONS = ['blink', 'mouth_open', 'turn_left', 'turn_right', 'nod', 'raise_head'] as const;
export const MODES = ['action', 'colour', 'silent'] as const;

type Num = number | null;

export interface RulesForm {
  modes: string[];
  pool: string[];
  count: Num;
  link_s: Num;
  step_s: Num;
  session_s: Num;
  retries: Num;
  thresholds: string;
  callback_url: string;
  callback_secret: string;
  return_urls: string;
  retention_days: Num;
  sampled_frames: Num;
  recording_enabled: boolean;
  recording_max_mb: Num;
  recording_max_s: Num;
  width: Num;
  height: Num;
  jpeg_quality: Num;
  min_fps: Num;
  max_fps: Num;
  advanced: string;
}

/** Where each form field sits in the rules (for the server's `field`, e.g. `actions.count`). */
export const FIELD_PATHS: Record<string, keyof RulesForm> = {
  modes: 'modes',
  'actions.pool': 'pool',
  'actions.count': 'count',
  'timeouts.link_s': 'link_s',
  'timeouts.step_s': 'step_s',
  'timeouts.session_s': 'session_s',
  retries: 'retries',
  thresholds: 'thresholds',
  'callback.url': 'callback_url',
  'callback.secret': 'callback_secret',
  callback: 'callback_url',
  return_urls: 'return_urls',
  'evidence.retention_days': 'retention_days',
  'evidence.sampled_frames': 'sampled_frames',
  'recording.enabled': 'recording_enabled',
  'recording.max_mb': 'recording_max_mb',
  'recording.max_s': 'recording_max_s',
  'capture.width': 'width',
  'capture.height': 'height',
  'capture.jpeg_quality': 'jpeg_quality',
  'capture.min_fps': 'min_fps',
  'capture.max_fps': 'max_fps',
};

/** The form field a server error names (`config.actions.count`, `actions.count`, `return_urls[2]`). */
export function formFieldOf(field: string | undefined): keyof RulesForm | 'code' | 'name' | null {
  if (!field) return null;
  const path = field.replace(/^config\./, '').replace(/\[\d+\]/g, '');
  if (path === 'code' || path === 'name') return path;
  for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    if (FIELD_PATHS[p]) return FIELD_PATHS[p]!;
  }
  return 'advanced';
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const num = (v: unknown): Num => (typeof v === 'number' ? v : null);

export function toForm(rules: SceneRules): RulesForm {
  const { modes, actions, timeouts, retries, thresholds, callback, return_urls, evidence, recording, capture, ...rest } = rules;
  const a = obj(actions), t = obj(timeouts), c = obj(callback), e = obj(evidence), r = obj(recording), cap = obj(capture);
  return {
    modes: Array.isArray(modes) ? (modes as string[]) : [],
    pool: Array.isArray(a.pool) ? (a.pool as string[]) : [],
    count: num(a.count),
    link_s: num(t.link_s),
    step_s: num(t.step_s),
    session_s: num(t.session_s),
    retries: num(retries),
    thresholds: thresholds && Object.keys(obj(thresholds)).length ? JSON.stringify(thresholds, null, 2) : '',
    callback_url: typeof c.url === 'string' ? c.url : '',
    callback_secret: typeof c.secret === 'string' ? c.secret : '',
    return_urls: Array.isArray(return_urls) ? (return_urls as string[]).join('\n') : '',
    retention_days: num(e.retention_days),
    sampled_frames: num(e.sampled_frames),
    recording_enabled: r.enabled === true,
    recording_max_mb: num(r.max_mb),
    recording_max_s: num(r.max_s),
    width: num(cap.width),
    height: num(cap.height),
    jpeg_quality: num(cap.jpeg_quality),
    min_fps: num(cap.min_fps),
    max_fps: num(cap.max_fps),
    advanced: Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '',
  };
}

/** Thrown when a JSON text field does not parse; names the form field. */
export class FormJsonError extends Error {
  constructor(readonly field: keyof RulesForm) {
    super(`${field}: not valid JSON`);
  }
}

function parseObject(text: string, field: keyof RulesForm): Record<string, unknown> | undefined {
  if (!text.trim()) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new FormJsonError(field);
  }
}

/** Leaves out null/empty members; an empty group is left out too. */
function compact(o: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

export function fromForm(f: RulesForm): SceneRules {
  const rules: Record<string, unknown> = {
    ...(parseObject(f.advanced, 'advanced') ?? {}),
    modes: f.modes.length ? f.modes : undefined,
    actions: compact({ pool: f.pool, count: f.count }),
    timeouts: compact({ link_s: f.link_s, step_s: f.step_s, session_s: f.session_s }),
    retries: f.retries ?? undefined,
    thresholds: parseObject(f.thresholds, 'thresholds'),
    callback: compact({ url: f.callback_url.trim(), secret: f.callback_secret }),
    return_urls: f.return_urls.split('\n').map((s) => s.trim()).filter(Boolean),
    evidence: compact({ retention_days: f.retention_days, sampled_frames: f.sampled_frames }),
    recording: compact({ enabled: f.recording_enabled ? true : null, max_mb: f.recording_max_mb, max_s: f.recording_max_s }),
    capture: compact({ width: f.width, height: f.height, jpeg_quality: f.jpeg_quality, min_fps: f.min_fps, max_fps: f.max_fps }),
  };
  return compact(rules) ?? {};
}
