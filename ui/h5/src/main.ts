// The H5 capture page: link → challenge → capability check → consent → camera → sealed frames
// over one WebSocket → prompts and steps → result → back to the integrator (docs/h5-protocol.md).

import { FLASH_LEAD_MS, FlashPlayer, flashOverlay, parseFlashPlan } from './flash';
import { forgetKey, restoreKey, saveKey } from './keystore';
import './style.css';
import { FrameGrabber, clientFacts, openCamera, playVideo, stopCamera } from './capture';
import { failuresBeforeStepDown, recordingStep, stepsDownOnMissingCapability, stepsDownOnNetwork } from './fallback';
import { texts, type TextKey } from './i18n';
import {
  cameraProblem,
  checkCapabilities,
  denyHelpKey,
  detectPlatform,
  iosWebviewTooOld,
  snapshotEnv,
  type Platform,
} from './platform';
import { fromBase64Url } from './protocol/bytes';
import type { CloseInfo } from './protocol/close';
import {
  parseChallenge,
  safeReturnUrl,
  type Challenge,
  type ErrorBody,
  type Lang,
  type PageResult,
  type ServerMessage,
} from './protocol/messages';
import { MAX_IN_FLIGHT, canSend, initialRate, onAck, onReconnect, onSent, onStalled, waitMs, type RateState } from './protocol/rate';
import { FrameSealer, SUITE, TAG_LEN, HEADER_LEN, clientKeys, keyPair } from './protocol/seal';
import { challengePath, parseLink, wsUrl, type LinkParams } from './protocol/url';
import { Connection } from './session';
import { els, renderProgress, setState } from './ui';
import { enterVideoMode } from './video-mode';

let lang: Lang = 'zh-CN';
let T = texts(lang);
const RETURN_AFTER_S = 3;

function say(key: TextKey): string {
  return T[key];
}

function applyStaticTexts(): void {
  document.documentElement.lang = lang;
  document.title = T.title;
  els.title.textContent = T.title;
  els.consentTitle.textContent = T.consent_title;
  els.consentText.textContent = T.consent_body;
  els.consentTips.textContent = T.consent_tips;
  els.start.textContent = T.start;
  els.retry.textContent = T.retry;
  els.messageReturn.textContent = T.back;
  els.returnButton.textContent = T.back;
  els.tap.textContent = T.tap_to_start;
  els.messageText.textContent = T.checking;
}

/** A screen that says what is wrong and, when it helps, how to fix it. */
function showProblem(
  state: 'error' | 'camera_denied',
  detail: string,
  text: string,
  opts: { help?: string; retry?: () => void; title?: string; recordInstead?: () => void } = {},
): void {
  setState(state, detail);
  els.messageTitle.textContent = opts.title ?? T.error_title;
  els.messageText.textContent = text;
  els.messageHelp.textContent = opts.help ?? '';
  els.messageHelp.hidden = !opts.help;
  els.retry.hidden = !opts.retry;
  els.retry.onclick = opts.retry ?? null;
  els.recordInstead.hidden = !opts.recordInstead;
  els.recordInstead.textContent = T.record_instead;
  els.recordInstead.onclick = opts.recordInstead ?? null;
  els.messageReturn.hidden = true;
}

function showResult(r: PageResult): void {
  setState(r.passed ? 'passed' : 'failed');
  els.resultIcon.textContent = r.passed ? '✓' : '✕';
  els.resultTitle.textContent = r.passed ? T.passed : T.failed;
  els.resultText.textContent = r.text || (r.passed ? T.passed_body : T.failed_body);
  els.resultTitle.focus();
  const url = safeReturnUrl(r.return_url, location.href);
  if (!url) return;
  const go = () => location.replace(url);
  els.returnButton.hidden = false;
  els.returnButton.onclick = go;
  els.returnButton.dataset.href = url;
  els.countdown.hidden = false;
  let left = RETURN_AFTER_S;
  els.countdown.textContent = T.back_auto(left);
  const timer = setInterval(() => {
    left -= 1;
    if (left <= 0) {
      clearInterval(timer);
      go();
    } else {
      els.countdown.textContent = T.back_auto(left);
    }
  }, 1000);
}

type ChallengeOutcome = { ok: true; challenge: Challenge } | { ok: false; key: TextKey; status: number };

async function fetchChallenge(link: LinkParams): Promise<ChallengeOutcome> {
  let res: Response;
  try {
    res = await fetch(challengePath(link.sid, link.lang), {
      headers: { Authorization: `Bearer ${link.token}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    return { ok: false, key: 'network', status: 0 };
  }
  if (!res.ok) {
    // The body's message is for operators; the page says it plainly in its own words.
    await res.json().catch(() => null as ErrorBody | null);
    const key: TextKey = res.status === 401 ? 'http_401' : res.status === 404 ? 'http_404' : res.status === 410 ? 'http_410' : 'http_other';
    return { ok: false, key, status: res.status };
  }
  const challenge = parseChallenge(await res.json().catch(() => null));
  return challenge ? { ok: true, challenge } : { ok: false, key: 'http_other', status: res.status };
}

async function main(): Promise<void> {
  const parsed = parseLink(location.search);
  lang = parsed.lang;
  T = texts(lang);
  applyStaticTexts();
  setState('checking');
  if (!parsed.ok) {
    showProblem('error', parsed.error, say(`link_${parsed.error}`));
    return;
  }
  const link = parsed.params;
  const platform = detectPlatform(navigator.userAgent, navigator.maxTouchPoints ?? 0, navigator.platform ?? '');

  const loaded = await fetchChallenge(link);
  if (!loaded.ok) {
    // 410: the session is over (expired, or its node went away); a kept key is of no more use.
    if (loaded.status === 410) forgetKey(link.sid);
    const retry = loaded.key === 'network' || loaded.key === 'http_other' ? () => location.reload() : undefined;
    showProblem('error', `http_${loaded.status}`, say(loaded.key), retry ? { retry } : {});
    return;
  }
  const challenge = loaded.challenge;
  // A reload after the end shows the end screen.
  if (challenge.status === 'finished' && challenge.result) {
    forgetKey(challenge.session_id);
    showResult(challenge.result);
    return;
  }
  if (!challenge.suites.includes(SUITE)) {
    showProblem('error', 'no_suite', T.no_suite);
    return;
  }

  const env = snapshotEnv(window);
  let problem = checkCapabilities(env, platform);
  const tooOld = !problem && iosWebviewTooOld(platform);
  if (tooOld) problem = 'open_in_browser';
  if (problem) {
    // Without real time, a recorded clip may do (but nothing can be sealed without random numbers).
    if (stepsDownOnMissingCapability(challenge) && problem !== 'no_crypto') {
      videoMode(link, challenge, env.hasGetUserMedia && !tooOld);
      return;
    }
    showProblem('error', problem, say(problem));
    return;
  }
  // A 2G line cannot carry real-time frames: the scene may ask for a recorded clip at once.
  const network = (navigator as Navigator & { connection?: { effectiveType?: string } }).connection?.effectiveType;
  if (stepsDownOnNetwork(challenge, network)) {
    videoMode(link, challenge, env.hasGetUserMedia);
    return;
  }

  setState('consent');
  els.start.disabled = false;
  els.start.onclick = () => void start(link, challenge, platform);
}

/** Whether the recorded-video fallback may run for this session (the scene allows it and its
 * fallback order lists it). */
function recordingOffer(challenge: Challenge) {
  return recordingStep(challenge);
}

/** Recorded-video mode, when real time cannot run here (docs/h5-protocol.md §7). */
function videoMode(link: LinkParams, challenge: Challenge, canRecord: boolean, stream: MediaStream | null = null): void {
  const offer = recordingOffer(challenge);
  if (!offer) return;
  enterVideoMode({ link, challenge, offer, T, showResult, canRecord: canRecord && typeof window.MediaRecorder === 'function', stream });
}

/** After the tap on Start (the user gesture iOS wants before the camera and playback). */
async function start(link: LinkParams, challenge: Challenge, platform: Platform): Promise<void> {
  els.start.disabled = true;
  els.start.textContent = T.starting_camera;
  const video = els.video;
  let stream: MediaStream;
  try {
    stream = await openCamera(video, challenge.capture.width, challenge.capture.height);
  } catch (err) {
    els.start.disabled = false;
    els.start.textContent = T.start;
    const name = err instanceof Error || err instanceof DOMException ? err.name : String(err);
    const kind = cameraProblem(name);
    const retry = () => void start(link, challenge, platform);
    // The page may not use the camera (a WebView that blocks it, a refusal), but the phone's own
    // camera app usually still can: offer a recorded video when the scene takes one.
    const recordInstead = stepsDownOnMissingCapability(challenge) ? () => videoMode(link, challenge, false) : undefined;
    if (kind === 'camera_denied') {
      showProblem('camera_denied', name, T.camera_denied, { help: say(denyHelpKey(platform)), retry, recordInstead });
    } else {
      showProblem('error', kind, say(kind), kind === 'insecure_context' ? { recordInstead } : { retry, recordInstead });
    }
    return;
  }

  setState('streaming', 'connecting');
  els.connectionText.textContent = T.connecting;
  els.stepText.textContent = T.hold_still;
  renderProgress(T.step_of(1, challenge.steps.length), 0, challenge.steps.length, 0);
  if (!(await playVideo(video))) {
    els.tap.hidden = false;
    els.tap.onclick = async () => {
      if (await playVideo(video)) els.tap.hidden = true;
    };
  }

  let keys;
  // A reload (WeChat reloads when the user comes back from another app) resumes with the kept key.
  const kept = restoreKey(challenge.session_id);
  const client = keyPair(kept);
  saveKey(challenge.session_id, client.privateKey);
  try {
    keys = clientKeys(challenge.session_id, client, fromBase64Url(challenge.server_key));
  } catch {
    stopCamera(stream);
    showProblem('error', 'bad_server_key', T.close_protocol);
    return;
  }
  const sealer = new FrameSealer(keys.c2s, challenge.session_id);
  // A colour scene: the server says when to flash (`flash` message); frames carry the tag.
  const flashSteps = parseFlashPlan((challenge as { flash?: unknown }).flash);
  const flash = flashSteps ? new FlashPlayer(flashOverlay(), flashSteps) : null;
  const grabber = new FrameGrabber(video, challenge.capture.width, challenge.capture.height, challenge.capture.jpeg_quality);
  let rate: RateState = initialRate(challenge.capture.min_fps, challenge.capture.max_fps, challenge.limits?.max_fps);
  const maxFrameBytes = challenge.limits?.max_frame_bytes ?? Infinity;
  let finished = false;
  let stalled = false;
  // Steps per attempt (every attempt draws as many), for the progress after a retry.
  let currentTotal = 0;
  let grabbing = false;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const finish = (r: PageResult) => {
    if (finished) return;
    finished = true;
    forgetKey(challenge.session_id);
    if (timer) clearTimeout(timer);
    conn.stop();
    stopCamera(stream);
    showResult(r);
  };

  const onMessage = (msg: ServerMessage) => {
    switch (msg.type) {
      case 'ready': {
        setState('streaming');
        els.connectionText.textContent = '';
        sealer.resumeAt(msg.next_seq);
        currentTotal = msg.total;
        rate = onReconnect(rate);
        const current = msg.step ? msg.step.index : msg.done < msg.total ? msg.done : null;
        renderProgress(T.step_of(Math.min(msg.done + 1, msg.total), msg.total), msg.done, msg.total, current);
        els.stepText.textContent = msg.step ? msg.step.text : msg.done >= msg.total && msg.total > 0 ? T.all_done : T.hold_still;
        break;
      }
      case 'ack':
        rate = onAck(rate, msg.seq, performance.now());
        stalled = false;
        document.body.dataset.acked = String(msg.seq);
        break;
      case 'prompt':
        els.promptText.textContent = msg.code === null ? '' : msg.text;
        els.promptText.dataset.code = msg.code ?? '';
        break;
      case 'step':
        els.stepText.textContent = msg.text;
        els.stepText.dataset.action = msg.action;
        currentTotal = msg.total;
        renderProgress(T.step_of(msg.index + 1, msg.total), msg.done, msg.total, msg.index);
        break;
      case 'step_passed':
        renderProgress(T.step_of(Math.min(msg.done + 1, msg.total), msg.total), msg.done, msg.total, null);
        els.stepText.textContent = msg.done >= msg.total ? T.all_done : T.step_done;
        break;
      case 'retry':
        // Say why the last attempt failed; the new attempt's steps arrive as `step` messages.
        els.promptText.textContent = msg.text;
        els.promptText.dataset.code = 'RETRY';
        document.body.dataset.attempt = String(msg.attempt);
        els.stepText.textContent = T.hold_still;
        renderProgress(T.step_of(1, Math.max(1, currentTotal)), 0, currentTotal, null);
        break;
      case 'flash':
        // Hold still, close to the screen, while the colours play.
        els.stepText.textContent = msg.text;
        // A moment to come close before the first colour; the frames meanwhile are the baseline.
        setTimeout(() => {
          if (finished) return;
          flash?.start(() => {
            els.stepText.textContent = T.hold_still;
          });
        }, FLASH_LEAD_MS);
        break;
      case 'result':
        flash?.stop();
        finish(msg);
        break;
      case 'error':
        break;
    }
  };

  const onClosed = async (info: CloseInfo) => {
    if (finished) return;
    if (timer) clearTimeout(timer);
    document.body.dataset.closeCode = String(info.code);
    // The session is over (4008–4011 end it, 4012 it expired): no resume will need the key.
    if (info.action === 'ended' || info.code === 4012) forgetKey(challenge.session_id);
    if (info.action === 'result' || info.action === 'ended') {
      // The result may be waiting in the challenge (a finished session carries it).
      const again = await fetchChallenge(link);
      if (again.ok && again.challenge.result) {
        finish(again.challenge.result);
        return;
      }
    }
    finished = true;
    stopCamera(stream);
    const text = info.action === 'reconnect' ? T.reconnect_failed : say(info.message);
    showProblem('error', `close_${info.code}`, text);
  };

  const conn = new Connection(wsUrl(location, challenge.ws_path, link.token, link.lang), client.publicKey, () => clientFacts(stream, platform), {
    message: onMessage,
    connecting: (attempt) => {
      if (attempt > 0) {
        setState('reconnecting');
        els.connectionText.textContent = T.reconnecting;
      }
    },
    closed: (info) => void onClosed(info),
    unreachable: () => {
      // The WebSocket never gets through (a proxy, a WebView): record a clip instead.
      finished = true;
      if (timer) clearTimeout(timer);
      videoMode(link, challenge, true, stream);
    },
  });
  conn.awaiting = () => rate.inFlight.size > 0;
  // Sockets in a row that never got going (the scene's `fallback.triggers.failures`, 3 by default)
  // hand over to the recorded video, when allowed.
  conn.giveUpAfter = failuresBeforeStepDown(challenge);
  conn.resumeFirst = kept !== undefined;

  const schedule = (ms: number) => {
    if (!finished) timer = setTimeout(tick, Math.max(0, Math.round(ms)));
  };

  const tick = async () => {
    timer = null;
    if (finished) return;
    const now = performance.now();
    if (!conn.ready || document.hidden || grabbing) return schedule(50);
    if (rate.inFlight.size >= MAX_IN_FLIGHT) {
      // A frame is due but two are still out: acks lag.
      if (!stalled && waitMs(rate, now) === 0) {
        rate = onStalled(rate);
        stalled = true;
      }
      return schedule(15);
    }
    if (!canSend(rate, now)) return schedule(waitMs(rate, now));
    grabbing = true;
    const captureMs = Date.now();
    const flashTag = flash?.currentTag() ?? 0;
    let jpeg: Uint8Array | null = null;
    try {
      jpeg = await grabber.grab();
    } finally {
      grabbing = false;
    }
    if (finished) return;
    if (!jpeg) return schedule(50);
    if (jpeg.length + HEADER_LEN + TAG_LEN > maxFrameBytes) {
      grabber.quality = Math.max(0.3, grabber.quality - 0.1);
      return schedule(0);
    }
    const { seq, frame } = sealer.seal(jpeg, captureMs, flashTag);
    if (conn.send(frame)) {
      rate = onSent(rate, seq, performance.now());
      stalled = false;
    }
    schedule(waitMs(rate, performance.now()));
  };

  // iOS and some WebViews end the camera track when the page goes to the background.
  document.addEventListener('visibilitychange', async () => {
    if (document.hidden || finished) return;
    const track = stream.getVideoTracks()[0];
    if (track && track.readyState === 'live') return;
    try {
      stopCamera(stream);
      stream = await openCamera(video, challenge.capture.width, challenge.capture.height);
      if (!(await playVideo(video))) els.tap.hidden = false;
    } catch {
      els.tap.hidden = false;
    }
  });

  conn.open();
  schedule(0);
}

void main().catch(() => {
  showProblem('error', 'internal', T.http_other, { retry: () => location.reload() });
});
