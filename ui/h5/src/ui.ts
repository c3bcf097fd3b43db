// The DOM: one screen at a time, and `data-state` on <body> for tests and styles.

export type PageState =
  | 'checking'
  | 'consent'
  | 'camera_denied'
  | 'streaming'
  | 'reconnecting'
  /** recorded-video mode: the steps, then recording or picking a clip */
  | 'video'
  /** recorded-video mode: MediaRecorder is running */
  | 'video_recording'
  /** recorded-video mode: the clip is being sent and checked */
  | 'uploading'
  | 'passed'
  | 'failed'
  | 'error';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

export const els = {
  get title() { return $('title'); },
  get message() { return $('screen-message'); },
  get spinner() { return $('spinner'); },
  get messageTitle() { return $('message-title'); },
  get messageText() { return $('message-text'); },
  get messageHelp() { return $('message-help'); },
  get retry() { return $<HTMLButtonElement>('retry-button'); },
  get messageReturn() { return $<HTMLButtonElement>('message-return-button'); },
  get recordInstead() { return $<HTMLButtonElement>('record-instead-button'); },
  get consent() { return $('screen-consent'); },
  get consentTitle() { return $('consent-title'); },
  get consentText() { return $('consent-text'); },
  get consentTips() { return $('consent-tips'); },
  get start() { return $<HTMLButtonElement>('start-button'); },
  get capture() { return $('screen-capture'); },
  get progressText() { return $('progress-text'); },
  get progressDots() { return $('progress-dots'); },
  get video() { return $<HTMLVideoElement>('preview'); },
  get tap() { return $<HTMLButtonElement>('tap-button'); },
  get stepText() { return $('step-text'); },
  get promptText() { return $('prompt-text'); },
  get connectionText() { return $('connection-text'); },
  get videoTitle() { return $('video-title'); },
  get videoIntro() { return $('video-intro'); },
  get videoSteps() { return $('video-steps'); },
  get videoNote() { return $('video-note'); },
  get videoStage() { return $('video-stage'); },
  get videoPreview() { return $<HTMLVideoElement>('video-preview'); },
  get videoTimer() { return $('video-timer'); },
  get uploadProgress() { return $<HTMLProgressElement>('upload-progress'); },
  get uploadText() { return $('upload-text'); },
  get videoError() { return $('video-error'); },
  get videoRecord() { return $<HTMLButtonElement>('video-record-button'); },
  get videoStop() { return $<HTMLButtonElement>('video-stop-button'); },
  get videoFileButton() { return $<HTMLButtonElement>('video-file-button'); },
  get videoRetry() { return $<HTMLButtonElement>('video-retry-button'); },
  get videoFile() { return $<HTMLInputElement>('video-file'); },
  get result() { return $('screen-result'); },
  get resultIcon() { return $('result-icon'); },
  get resultTitle() { return $('result-title'); },
  get resultText() { return $('result-text'); },
  get returnButton() { return $<HTMLButtonElement>('return-button'); },
  get countdown() { return $('return-countdown'); },
};

const SCREENS = ['screen-message', 'screen-consent', 'screen-capture', 'screen-video', 'screen-result'] as const;
type Screen = (typeof SCREENS)[number];

const SCREEN_OF: Record<PageState, Screen> = {
  checking: 'screen-message',
  consent: 'screen-consent',
  camera_denied: 'screen-message',
  streaming: 'screen-capture',
  reconnecting: 'screen-capture',
  video: 'screen-video',
  video_recording: 'screen-video',
  uploading: 'screen-video',
  passed: 'screen-result',
  failed: 'screen-result',
  error: 'screen-message',
};

export function setState(state: PageState, detail?: string): void {
  document.body.dataset.state = state;
  if (detail) document.body.dataset.detail = detail;
  else delete document.body.dataset.detail;
  const show = SCREEN_OF[state];
  for (const id of SCREENS) $(id).hidden = id !== show;
  els.spinner.hidden = state !== 'checking';
}

export function state(): PageState {
  return document.body.dataset.state as PageState;
}

/** Progress: "step i of n" and one dot per step (done, current, to come). */
export function renderProgress(label: string, done: number, total: number, current: number | null): void {
  els.progressText.textContent = total > 0 ? label : '';
  const ol = els.progressDots;
  ol.replaceChildren();
  for (let i = 0; i < total; i++) {
    const li = document.createElement('li');
    li.className = i < done ? 'done' : i === current ? 'current' : '';
    ol.append(li);
  }
  const el = document.getElementById('progress');
  if (el) {
    el.dataset.done = String(done);
    el.dataset.total = String(total);
  }
}
