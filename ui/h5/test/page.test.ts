import { describe, expect, it } from 'vitest';
import { cameraConstraints, fitSize } from '../src/capture';
import { TEXTS } from '../src/i18n';
import { cameraProblem, checkCapabilities, denyHelpKey, detectPlatform, iosWebviewTooOld, type Env } from '../src/platform';
import { MAX_IN_FLIGHT, canSend, initialRate, onAck, onReconnect, onSent, onStalled, waitMs } from '../src/protocol/rate';
import { challengePath, parseLink, pickLang, wsUrl } from '../src/protocol/url';

const SID = '0193b2c4-5d6e-7f80-9a1b-2c3d4e5f6071';
const TOKEN = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C'; // 43 chars, as 32 bytes in base64url

describe('the link', () => {
  it('reads sid, t and lang (zh-CN by default)', () => {
    expect(parseLink(`?sid=${SID}&t=${TOKEN}`)).toEqual({ ok: true, lang: 'zh-CN', params: { sid: SID, token: TOKEN, lang: 'zh-CN' } });
    expect(parseLink(`?sid=${SID.toUpperCase()}&t=${TOKEN}&lang=en`)).toMatchObject({ ok: true, params: { sid: SID, lang: 'en' } });
    expect(pickLang('EN-us')).toBe('en');
    expect(pickLang('fr')).toBe('zh-CN');
    expect(pickLang(null)).toBe('zh-CN');
  });
  it('says what is wrong with a broken link, in the link language', () => {
    expect(parseLink('')).toMatchObject({ ok: false, error: 'missing_sid' });
    expect(parseLink(`?sid=123&t=${TOKEN}&lang=en`)).toEqual({ ok: false, error: 'bad_sid', lang: 'en' });
    expect(parseLink(`?sid=${SID}`)).toMatchObject({ ok: false, error: 'missing_token' });
    expect(parseLink(`?sid=${SID}&t=abc%3Cscript%3E`)).toMatchObject({ ok: false, error: 'bad_token' });
  });
  it('builds the WebSocket and challenge URLs', () => {
    expect(wsUrl({ protocol: 'https:', host: 'lg.example' }, `/h5/v1/sessions/${SID}/ws`, TOKEN, 'en')).toBe(
      `wss://lg.example/h5/v1/sessions/${SID}/ws?t=${TOKEN}&lang=en`,
    );
    expect(wsUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, '/x', 'tok_-', 'zh-CN')).toBe('ws://127.0.0.1:8080/x?t=tok_-&lang=zh-CN');
    expect(challengePath(SID, 'zh-CN')).toBe(`/h5/v1/sessions/${SID}/challenge?lang=zh-CN`);
  });
});

const UA = {
  wechatIos: 'Mozilla/5.0 (iPhone; CPU iPhone OS 14_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.2(0x18000231) NetType/WIFI Language/zh_CN',
  wechatIos17: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2b) NetType/WIFI Language/zh_CN',
  safari: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  bankAppIos: 'Mozilla/5.0 (iPhone; CPU iPhone OS 16_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  wechatAndroid: 'Mozilla/5.0 (Linux; Android 13; V2148A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 XWEB/1110017 MMWEBSDK/20230805 MicroMessenger/8.0.42.2460(0x28002A3B) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64',
  chromeDesktop: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
  ipadDesktopMode: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
};

const goodEnv: Env = { isSecureContext: true, hasGetUserMedia: true, hasWebSocket: true, hasGetRandomValues: true, hasCanvasToBlob: true };

describe('platform and capabilities', () => {
  it('knows WeChat, iOS WebViews and Android', () => {
    expect(detectPlatform(UA.wechatIos)).toMatchObject({ wechat: true, ios: true, iosWebview: true, iosVersion: [14, 2], android: false });
    expect(detectPlatform(UA.safari)).toMatchObject({ wechat: false, ios: true, iosWebview: false });
    expect(detectPlatform(UA.bankAppIos)).toMatchObject({ ios: true, iosWebview: true, iosVersion: [16, 4] });
    expect(detectPlatform(UA.wechatAndroid)).toMatchObject({ wechat: true, android: true, ios: false, iosWebview: false });
    expect(detectPlatform(UA.chromeDesktop)).toMatchObject({ wechat: false, ios: false, android: false });
    expect(detectPlatform(UA.ipadDesktopMode, 5).ios).toBe(true);
    expect(detectPlatform(UA.ipadDesktopMode, 0).ios).toBe(false);
  });
  it('WeChat on iOS before 14.3 is sent to Safari', () => {
    const old = detectPlatform(UA.wechatIos);
    expect(iosWebviewTooOld(old)).toBe(true);
    expect(iosWebviewTooOld(detectPlatform(UA.wechatIos17))).toBe(false);
    expect(iosWebviewTooOld(detectPlatform(UA.safari))).toBe(false);
    expect(checkCapabilities({ ...goodEnv, hasGetUserMedia: false }, old)).toBe('open_in_browser');
    expect(checkCapabilities({ ...goodEnv, hasGetUserMedia: false }, detectPlatform(UA.chromeDesktop))).toBe('no_camera_api');
  });
  it('checks secure context, crypto, WebSocket and camera in that order', () => {
    const p = detectPlatform(UA.chromeDesktop);
    expect(checkCapabilities(goodEnv, p)).toBeNull();
    expect(checkCapabilities({ ...goodEnv, isSecureContext: false, hasGetUserMedia: false }, p)).toBe('insecure_context');
    expect(checkCapabilities({ ...goodEnv, hasGetRandomValues: false }, p)).toBe('no_crypto');
    expect(checkCapabilities({ ...goodEnv, hasWebSocket: false }, p)).toBe('no_websocket');
  });
  it('maps camera errors to plain messages, with the right settings help', () => {
    expect(cameraProblem('NotAllowedError')).toBe('camera_denied');
    expect(cameraProblem('NotFoundError')).toBe('camera_missing');
    expect(cameraProblem('NotReadableError')).toBe('camera_busy');
    expect(cameraProblem('SecurityError')).toBe('insecure_context');
    expect(cameraProblem('Weird')).toBe('camera_other');
    expect(denyHelpKey(detectPlatform(UA.wechatIos17))).toBe('deny_help_wechat');
    expect(denyHelpKey(detectPlatform(UA.safari))).toBe('deny_help_ios');
    expect(denyHelpKey(detectPlatform(UA.chromeDesktop))).toBe('deny_help_desktop');
  });
  it('has every text in both languages', () => {
    expect(Object.keys(TEXTS.en).sort()).toEqual(Object.keys(TEXTS['zh-CN']).sort());
    expect(TEXTS['zh-CN'].consent_body).toContain('我们需要使用摄像头确认是您本人在操作');
    expect(TEXTS['zh-CN'].passed).toBe('通过');
    expect(TEXTS['zh-CN'].failed).toBe('未通过');
  });
});

describe('frames', () => {
  it('fit inside the asked size keeping the aspect', () => {
    expect(fitSize(640, 480, 480, 640)).toEqual({ width: 480, height: 360 });
    expect(fitSize(480, 640, 480, 640)).toEqual({ width: 480, height: 640 });
    expect(fitSize(720, 1280, 480, 640)).toEqual({ width: 360, height: 640 });
    expect(fitSize(240, 320, 480, 640)).toEqual({ width: 480, height: 640 });
    expect(fitSize(0, 0, 480, 640)).toEqual({ width: 0, height: 0 });
  });
  it('ask for the front camera without hard constraints', () => {
    const c = cameraConstraints(480, 640);
    expect(c.audio).toBe(false);
    expect(c.video).toMatchObject({ facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } });
    expect(JSON.stringify(c)).not.toContain('exact');
  });
});

describe('adaptive rate', () => {
  it('starts between min and max and stays under the server limit', () => {
    const s = initialRate(8, 15, 20);
    expect(s.fps).toBeGreaterThanOrEqual(8);
    expect(s.fps).toBeLessThanOrEqual(15);
    expect(initialRate(8, 25, 20).maxFps).toBe(18);
  });
  it('keeps at most two frames unacknowledged', () => {
    let s = initialRate(8, 15);
    let t = 0;
    expect(canSend(s, t)).toBe(true);
    s = onSent(s, 1, t);
    t += 1000;
    s = onSent(s, 2, t);
    t += 1000;
    expect(s.inFlight.size).toBe(MAX_IN_FLIGHT);
    expect(canSend(s, t)).toBe(false);
    s = onAck(s, 1, t);
    expect(canSend(s, t)).toBe(true);
  });
  it('an ack covers older frames too', () => {
    let s = initialRate(8, 15);
    s = onSent(s, 1, 0);
    s = onSent(s, 2, 100);
    s = onAck(s, 2, 150);
    expect(s.inFlight.size).toBe(0);
  });
  it('slows down when acks lag, to min_fps at the lowest', () => {
    let s = initialRate(8, 15);
    let t = 0;
    for (let seq = 1; seq < 40; seq++) {
      s = onSent(s, seq, t);
      t += 400; // each ack takes 400 ms
      s = onAck(s, seq, t);
    }
    expect(s.fps).toBe(8);
    expect(onStalled(s).fps).toBe(8);
  });
  it('speeds up when acks are quick, to max_fps at the highest', () => {
    let s = initialRate(8, 15);
    let t = 0;
    for (let seq = 1; seq < 40; seq++) {
      s = onSent(s, seq, t);
      s = onAck(s, seq, t + 10);
      t += 1000 / s.fps;
    }
    expect(s.fps).toBe(15);
  });
  it('holds steady in between, waits a frame interval, forgets stale frames on reconnect', () => {
    let s = initialRate(10, 10);
    s = onSent(s, 1, 0);
    expect(waitMs(s, 40)).toBeCloseTo(60);
    expect(canSend(s, 40)).toBe(false);
    s = onAck(s, 1, 80);
    expect(s.fps).toBe(10);
    s = onSent(s, 2, 100);
    s = onReconnect(s);
    expect(s.inFlight.size).toBe(0);
    expect(canSend(s, 101)).toBe(true);
    expect(onStalled(initialRate(8, 15)).fps).toBeLessThan(initialRate(8, 15).fps);
  });
});
