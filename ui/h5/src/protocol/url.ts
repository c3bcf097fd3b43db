// The link (docs/h5-protocol.md §1): ?sid={uuid}&t={token}[&lang=en]. Pure.

import type { Lang } from './messages';

export interface LinkParams {
  sid: string;
  token: string;
  lang: Lang;
}

export type LinkError = 'missing_sid' | 'bad_sid' | 'missing_token' | 'bad_token';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/** `lang=en` (or `en-…`) picks English; anything else is Chinese (zh-CN). */
export function pickLang(raw: string | null | undefined): Lang {
  const l = (raw ?? '').trim().toLowerCase();
  return l === 'en' || l.startsWith('en-') || l.startsWith('en_') ? 'en' : 'zh-CN';
}

export function parseLink(
  search: string,
): { ok: true; params: LinkParams; lang: Lang } | { ok: false; error: LinkError; lang: Lang } {
  const q = new URLSearchParams(search);
  const lang = pickLang(q.get('lang'));
  const sid = (q.get('sid') ?? '').trim();
  const token = (q.get('t') ?? '').trim();
  if (!sid) return { ok: false, error: 'missing_sid', lang };
  if (!UUID.test(sid)) return { ok: false, error: 'bad_sid', lang };
  if (!token) return { ok: false, error: 'missing_token', lang };
  if (!TOKEN.test(token)) return { ok: false, error: 'bad_token', lang };
  return { ok: true, params: { sid: sid.toLowerCase(), token, lang }, lang };
}

/** ws(s)://host{ws_path}?t=…&lang=… from the page's location. */
export function wsUrl(location: { protocol: string; host: string }, wsPath: string, token: string, lang: Lang): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams({ t: token, lang });
  return `${scheme}//${location.host}${wsPath}?${q.toString()}`;
}

/** The challenge's path for a session. */
export function challengePath(sid: string, lang: Lang): string {
  return `/h5/v1/sessions/${encodeURIComponent(sid)}/challenge?lang=${encodeURIComponent(lang)}`;
}
