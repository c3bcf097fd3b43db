// The camera and the frames: getUserMedia with the quirks of iOS and WeChat, and JPEGs scaled to
// fit the size the server asks for.

import type { ClientFacts } from './protocol/messages';
import type { Platform } from './platform';

/** The largest size with the source's aspect that fits inside max (never upscaled past it). */
export function fitSize(srcW: number, srcH: number, maxW: number, maxH: number): { width: number; height: number } {
  if (srcW <= 0 || srcH <= 0) return { width: 0, height: 0 };
  const scale = Math.min(maxW / srcW, maxH / srcH);
  return { width: Math.max(1, Math.floor(srcW * scale)), height: Math.max(1, Math.floor(srcH * scale)) };
}

/** Constraints: the front camera, near the size the server wants; no exact constraint, so no OverconstrainedError. */
export function cameraConstraints(width: number, height: number): MediaStreamConstraints {
  // Cameras report landscape sizes; ask for the long side as width and let the browser rotate.
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  return {
    audio: false,
    video: { facingMode: 'user', width: { ideal: long }, height: { ideal: short }, frameRate: { ideal: 30 } },
  };
}

export async function openCamera(video: HTMLVideoElement, width: number, height: number): Promise<MediaStream> {
  const stream = await navigator.mediaDevices.getUserMedia(cameraConstraints(width, height));
  // iOS WKWebView / WeChat: inline, muted, no controls, or the video goes full screen or stays black.
  video.muted = true;
  video.playsInline = true;
  video.setAttribute('playsinline', '');
  video.setAttribute('webkit-playsinline', '');
  video.setAttribute('muted', '');
  video.srcObject = stream;
  return stream;
}

/** Starts playback; false when the browser wants a tap first (autoplay policy). */
export async function playVideo(video: HTMLVideoElement): Promise<boolean> {
  try {
    await video.play();
    return true;
  } catch {
    return false;
  }
}

export function stopCamera(stream: MediaStream | null): void {
  stream?.getTracks().forEach((t) => t.stop());
}

/** What the hello tells about the device (every field optional; strings cut to 256). */
export function clientFacts(stream: MediaStream | null, p: Platform): ClientFacts {
  const facts: ClientFacts = {
    user_agent: navigator.userAgent.slice(0, 256),
    platform: { wechat: p.wechat, ios_webview: p.iosWebview, android: p.android },
    screen: { width: screen.width, height: screen.height, dpr: window.devicePixelRatio || 1 },
  };
  const track = stream?.getVideoTracks()[0];
  if (track) {
    if (track.label) facts.camera_label = track.label.slice(0, 256);
    const s = track.getSettings ? track.getSettings() : {};
    const t: NonNullable<ClientFacts['track']> = {};
    if (typeof s.width === 'number') t.width = s.width;
    if (typeof s.height === 'number') t.height = s.height;
    if (typeof s.frameRate === 'number') t.frame_rate = Math.round(s.frameRate * 100) / 100;
    if (typeof s.facingMode === 'string') t.facing_mode = s.facingMode.slice(0, 256);
    facts.track = t;
  }
  return facts;
}

/** Grabs JPEG frames from the video through one canvas (no ImageCapture: iOS has none). */
export class FrameGrabber {
  private readonly canvas = document.createElement('canvas');
  private readonly ctx: CanvasRenderingContext2D | null;
  quality: number;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly maxW: number,
    private readonly maxH: number,
    quality: number,
  ) {
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.quality = Math.min(1, Math.max(0.3, quality));
  }

  /** One JPEG of the current video frame, or null when there is no picture yet. */
  async grab(): Promise<Uint8Array | null> {
    const vw = this.video.videoWidth;
    const vh = this.video.videoHeight;
    if (!this.ctx || vw === 0 || vh === 0 || this.video.readyState < 2) return null;
    const { width, height } = fitSize(vw, vh, this.maxW, this.maxH);
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    this.ctx.drawImage(this.video, 0, 0, width, height);
    const blob = await new Promise<Blob | null>((resolve) => this.canvas.toBlob(resolve, 'image/jpeg', this.quality));
    if (!blob) return null;
    return new Uint8Array(await blob.arrayBuffer());
  }
}
