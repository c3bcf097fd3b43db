// Recorded-video mode (docs/h5-protocol.md §7): when real time cannot run here (no camera API or
// WebSocket, or the WebSocket never connects) and the scene allows it, the person records a clip
// doing the steps in order — in the page with MediaRecorder when the camera works, else with the
// phone's camera app through <input type="file" capture> — and the page uploads it sealed.

import { cameraConstraints, playVideo, stopCamera } from './capture';
import type { Texts } from './i18n';
import { forgetKey } from './keystore';
import type { Challenge, PageResult, RecordingOffer } from './protocol/messages';
import type { LinkParams } from './protocol/url';
import { ClipUpload, clipProblem, forgetUpload, type Clip, type UploadError, type UploadPhase } from './recording';
import { els, setState } from './ui';

export interface VideoModeContext {
  link: LinkParams;
  challenge: Challenge;
  offer: RecordingOffer;
  T: Texts;
  /** the end screen (the same as real time's) */
  showResult(r: PageResult): void;
  /** whether the page can record itself (getUserMedia and MediaRecorder are there) */
  canRecord: boolean;
  /** a camera stream already open (real time had one, its WebSocket failed) */
  stream?: MediaStream | null;
}

/** Seconds kept free below max_s: a recorder's clip runs a little past the moment it is stopped. */
const STOP_MARGIN_S = 1;

function sessionStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** The recorder's container: WebM where it exists (Chromium, Firefox), MP4 elsewhere (Safari). */
function recorderMime(): string {
  const M = window.MediaRecorder;
  for (const t of ['video/webm;codecs=vp8', 'video/webm', 'video/mp4']) {
    if (typeof M.isTypeSupported === 'function' && M.isTypeSupported(t)) return t;
  }
  return '';
}

/** Shows the steps and the ways to record; returns at once (everything after is driven by taps). */
export function enterVideoMode(ctx: VideoModeContext): void {
  const { T, offer, challenge } = ctx;
  let stream: MediaStream | null = ctx.stream ?? null;
  let recorder: MediaRecorder | null = null;
  let lastClip: Clip | null = null;

  els.videoTitle.textContent = T.video_title;
  els.videoIntro.textContent = T.video_intro;
  els.videoSteps.replaceChildren(
    ...challenge.steps.map((s) => {
      const li = document.createElement('li');
      li.textContent = s.text;
      li.dataset.action = s.action;
      return li;
    }),
  );
  els.videoNote.textContent = T.video_note(offer.max_s, Math.floor(offer.max_bytes / (1024 * 1024)));
  els.videoRecord.textContent = T.video_record;
  els.videoStop.textContent = T.video_stop;
  els.videoRetry.textContent = T.retry;
  els.videoFileButton.textContent = ctx.canRecord ? T.video_pick_other : T.video_pick;

  const showError = (text: string) => {
    els.videoError.textContent = text;
    els.videoError.hidden = !text;
  };

  /** The screen that asks for a clip (first, and again after a refusal). */
  const ready = (detail: string, error = '') => {
    setState('video', detail);
    showError(error);
    els.uploadProgress.hidden = true;
    els.uploadText.textContent = '';
    els.videoTimer.hidden = true;
    els.videoStop.hidden = true;
    els.videoRetry.hidden = true;
    els.videoRecord.hidden = !ctx.canRecord;
    els.videoRecord.disabled = false;
    els.videoFileButton.hidden = false;
    els.videoFileButton.className = ctx.canRecord ? 'button' : 'button primary';
    els.videoStage.hidden = !(ctx.canRecord && stream);
  };

  /** The clip is gone or done: nothing more to ask for. */
  const stopAsking = () => {
    els.videoRecord.hidden = true;
    els.videoStop.hidden = true;
    els.videoFileButton.hidden = true;
    els.videoRetry.hidden = true;
  };

  const serverText = (e: UploadError, fallback: string) => e.message || fallback;

  const upload = async (clip: Clip) => {
    lastClip = clip;
    setState('uploading', 'opening');
    showError('');
    stopAsking();
    els.videoTimer.hidden = true;
    els.uploadProgress.hidden = false;
    els.uploadProgress.value = 0;
    let shownPct = -1;
    const progress = (received: number, chunks: number, phase: UploadPhase) => {
      document.body.dataset.detail = phase;
      els.uploadProgress.max = chunks;
      els.uploadProgress.value = received;
      els.uploadProgress.dataset.received = String(received);
      const pct = Math.floor((received / chunks) * 100);
      if (phase === 'uploading') {
        // Announce in steps of 10 %: a screen reader reading every chunk says nothing useful.
        const step = Math.floor(pct / 10) * 10;
        if (step !== shownPct || !els.uploadText.textContent) {
          shownPct = step;
          els.uploadText.textContent = T.upload_progress(step);
        }
      } else {
        shownPct = -1;
        els.uploadText.textContent =
          phase === 'opening' ? T.upload_opening : phase === 'retrying' ? T.upload_retrying : T.upload_finishing;
      }
    };
    const job = new ClipUpload(
      { sid: challenge.session_id, token: ctx.link.token, lang: ctx.link.lang, serverKey: challenge.server_key },
      offer,
      clip,
      { fetch: (input, init) => window.fetch(input, init), storage: sessionStore(), progress },
    );
    const outcome = await job.run();
    if (outcome.kind === 'result') {
      stopCamera(stream);
      forgetKey(challenge.session_id);
      forgetUpload(sessionStore(), challenge.session_id);
      ctx.showResult(outcome.result);
      return;
    }
    const e = outcome.error;
    if (outcome.kind === 'record_again' || e.status === 413 || e.status === 422) {
      // The clip cannot be used (undecodable, too long, too large): the person records again.
      lastClip = null;
      const why = e.status === 413 ? serverText(e, T.clip_not_video) : T.clip_unusable(offer.max_s);
      // Chinese sentences run on without a space; English ones take one.
      const sep = ctx.link.lang === 'en' ? ' ' : '';
      ready(`http_${e.status}`, `${why}${sep}${T.record_again}${e.message && e.status !== 413 ? T.server_said(e.message) : ''}`);
      return;
    }
    setState('uploading', `http_${e.status}`);
    els.uploadText.textContent = '';
    if (e.status === 0 || e.status >= 500) {
      // The line or the server gave up for now: the same clip resumes with the kept key.
      showError(e.status === 0 ? T.upload_failed : serverText(e, T.upload_failed));
      els.videoRetry.hidden = false;
      els.videoRetry.onclick = () => lastClip && void upload(lastClip);
      return;
    }
    // 401, 403, 409, 410: this link cannot take a video any more.
    stopCamera(stream);
    showError(serverText(e, T.upload_refused));
  };

  /** A picked or recorded clip: refused here when the server would refuse it, else sent. */
  const take = (clip: Clip) => {
    const problem = clipProblem(clip, offer);
    if (problem === 'clip_too_large') {
      const mb = (clip.size / (1024 * 1024)).toFixed(1);
      ready(problem, T.clip_too_large(mb, Math.floor(offer.max_bytes / (1024 * 1024))));
    } else if (problem) {
      ready(problem, T[problem]);
    } else {
      void upload(clip);
    }
  };

  const input = els.videoFile;
  els.videoFileButton.onclick = () => input.click();
  input.onchange = () => {
    const file = input.files?.[0];
    // Cleared, so that picking the same file again fires `change` again.
    input.value = '';
    if (file) take(file);
  };

  const record = async () => {
    els.videoRecord.disabled = true;
    showError('');
    try {
      if (!stream || !stream.getVideoTracks().some((t) => t.readyState === 'live')) {
        stream = await navigator.mediaDevices.getUserMedia(cameraConstraints(challenge.capture.width, challenge.capture.height));
      }
      const video = els.videoPreview;
      video.muted = true;
      video.playsInline = true;
      video.srcObject = stream;
      els.videoStage.hidden = false;
      void playVideo(video);
      const mime = recorderMime();
      recorder = new MediaRecorder(stream, mime ? { mimeType: mime } : undefined);
    } catch {
      ctx.canRecord = false;
      els.videoFileButton.textContent = T.video_pick;
      ready('recorder_failed', T.video_recorder_failed);
      return;
    }
    const rec = recorder;
    const parts: Blob[] = [];
    rec.ondataavailable = (ev) => {
      if (ev.data && ev.data.size > 0) parts.push(ev.data);
    };
    const limit = Math.max(1, offer.max_s - STOP_MARGIN_S);
    let left = limit;
    const timer = setInterval(() => {
      left -= 1;
      els.videoTimer.textContent = T.video_recording(Math.max(0, left));
      if (left <= 0 && rec.state === 'recording') rec.stop();
    }, 1000);
    rec.onstop = () => {
      clearInterval(timer);
      const type = rec.mimeType || parts[0]?.type || 'video/webm';
      take(new Blob(parts, { type }));
    };
    setState('video_recording');
    els.videoRecord.hidden = true;
    els.videoFileButton.hidden = true;
    els.videoTimer.hidden = false;
    els.videoTimer.textContent = T.video_recording(left);
    els.videoStop.hidden = false;
    els.videoStop.onclick = () => {
      if (rec.state === 'recording') rec.stop();
    };
    rec.start(1000);
  };
  els.videoRecord.onclick = () => void record();

  ready(ctx.canRecord ? 'recorder' : 'file');
}
