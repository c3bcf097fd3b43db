// The session's private key kept in the tab's sessionStorage until the session ends, so that a
// reload (WeChat reloads a page when the user switches apps) resumes the same session with the
// same key instead of being refused as another device (4003 key_mismatch). sessionStorage is per
// tab and cleared with it; the key is useless once the session has its result.
import { fromBase64Url, toBase64Url } from './protocol/bytes';

const name = (sessionId: string) => `livegate-key-${sessionId.toLowerCase()}`;

/** The key this tab made for the session before a reload, if any. */
export function restoreKey(sessionId: string): Uint8Array | undefined {
  try {
    const saved = window.sessionStorage.getItem(name(sessionId));
    const key = saved ? fromBase64Url(saved) : undefined;
    return key && key.length === 32 ? key : undefined;
  } catch {
    return undefined; // storage disabled (private mode): a reload starts over, as before
  }
}

/** Keeps the key for a reload. */
export function saveKey(sessionId: string, key: Uint8Array): void {
  try {
    window.sessionStorage.setItem(name(sessionId), toBase64Url(key));
  } catch {
    /* storage disabled: nothing to keep */
  }
}

/** Forgets the key: the session is over. */
export function forgetKey(sessionId: string): void {
  try {
    window.sessionStorage.removeItem(name(sessionId));
  } catch {
    /* nothing kept */
  }
}
