// What the page can tell about where it runs, and whether it can do its job there. Pure
// functions over a snapshot of the environment, so they are unit-tested.

export interface Platform {
  wechat: boolean;
  ios: boolean;
  /** iOS version as [major, minor], when the UA says */
  iosVersion: [number, number] | null;
  /** an in-app iOS WebView (WKWebView without Safari's token: WeChat, bank apps) */
  iosWebview: boolean;
  android: boolean;
}

export function detectPlatform(ua: string, maxTouchPoints = 0, platformName = ''): Platform {
  const wechat = /MicroMessenger/i.test(ua);
  // iPadOS 13+ says "Macintosh"; touch points tell it apart from a Mac.
  const ios = /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && maxTouchPoints > 1) || /^iP(hone|ad|od)/.test(platformName);
  const m = /OS (\d+)[_.](\d+)/.exec(ua);
  const iosVersion: [number, number] | null = ios && m ? [Number(m[1]), Number(m[2])] : null;
  const iosWebview = ios && /AppleWebKit/.test(ua) && !/Safari\//.test(ua);
  const android = /Android/i.test(ua);
  return { wechat, ios, iosVersion, iosWebview: iosWebview || (ios && wechat), android };
}

export interface Env {
  isSecureContext: boolean;
  hasGetUserMedia: boolean;
  hasWebSocket: boolean;
  hasGetRandomValues: boolean;
  hasCanvasToBlob: boolean;
}

export type CapabilityProblem =
  | 'insecure_context'
  | 'open_in_browser'
  | 'no_camera_api'
  | 'no_websocket'
  | 'no_crypto';

/** The first thing that stops the page, or null. Order: what the person can fix first. */
export function checkCapabilities(env: Env, p: Platform): CapabilityProblem | null {
  if (!env.isSecureContext) return 'insecure_context';
  if (!env.hasGetRandomValues) return 'no_crypto';
  if (!env.hasWebSocket) return 'no_websocket';
  if (!env.hasGetUserMedia) {
    // WeChat on iOS before 14.3 (and other iOS WebViews) have no getUserMedia: Safari does.
    if (p.ios && (p.wechat || p.iosWebview)) return 'open_in_browser';
    return 'no_camera_api';
  }
  if (!env.hasCanvasToBlob) return 'no_camera_api';
  return null;
}

/** iOS before 14.3 has no camera in WKWebView at all, whatever the API surface says. */
export function iosWebviewTooOld(p: Platform): boolean {
  if (!p.ios || !p.iosWebview || !p.iosVersion) return false;
  const [maj, min] = p.iosVersion;
  return maj < 14 || (maj === 14 && min < 3);
}

export function snapshotEnv(w: Window & typeof globalThis): Env {
  const md = w.navigator.mediaDevices as MediaDevices | undefined;
  return {
    // `localhost` counts as a secure context in browsers.
    isSecureContext: w.isSecureContext === true,
    hasGetUserMedia: !!md && typeof md.getUserMedia === 'function',
    hasWebSocket: typeof w.WebSocket === 'function',
    hasGetRandomValues: !!w.crypto && typeof w.crypto.getRandomValues === 'function',
    hasCanvasToBlob: typeof w.HTMLCanvasElement === 'function' && typeof w.HTMLCanvasElement.prototype.toBlob === 'function',
  };
}

/** The camera's error (a DOMException name) → what the page tells the person. */
export type CameraProblem = 'camera_denied' | 'camera_missing' | 'camera_busy' | 'insecure_context' | 'camera_other';

export function cameraProblem(errName: string): CameraProblem {
  switch (errName) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      return 'camera_denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'camera_missing';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'camera_busy';
    case 'SecurityError':
      return 'insecure_context';
    default:
      return 'camera_other';
  }
}

/** Which browser's settings to explain for a refused camera. */
export function denyHelpKey(p: Platform): 'deny_help_wechat' | 'deny_help_ios' | 'deny_help_android' | 'deny_help_desktop' {
  if (p.wechat) return 'deny_help_wechat';
  if (p.ios) return 'deny_help_ios';
  if (p.android) return 'deny_help_android';
  return 'deny_help_desktop';
}
