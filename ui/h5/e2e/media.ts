// Fake-camera clips for Chromium (--use-file-for-fake-video-capture): .y4m files made with ffmpeg
// from the shared face media, always in a temp folder, never in the repo.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The media folder (LIVEGATE_TEST_MEDIA), or why there is none. */
export function mediaDir(): { dir: string } | { skip: string } {
  const dir = process.env.LIVEGATE_TEST_MEDIA;
  if (!dir) return { skip: 'LIVEGATE_TEST_MEDIA is not set (the shared face media, e.g. ../shared/media)' };
  if (!existsSync(join(dir, 'INDEX.md'))) return { skip: `LIVEGATE_TEST_MEDIA=${dir} has no INDEX.md` };
  return { dir: resolve(dir) };
}

export function hasFfmpeg(): boolean {
  return spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
}

/** A fresh temp folder; remove it with cleanup(). */
export function tempDir(prefix = 'livegate-h5-e2e-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function ffmpeg(args: string[]): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

export interface ClipOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** seconds to keep (from `start`) */
  duration?: number;
  start?: number;
}

/**
 * A portrait .y4m from a video: scaled to cover width x height and centre-cropped (so the face
 * keeps its shape), at `fps`, yuv420p. Chromium loops the file.
 */
export function videoToY4m(input: string, out: string, o: ClipOptions = {}): string {
  const { width = 480, height = 640, fps = 15, duration, start } = o;
  const vf = `scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height},fps=${fps},format=yuv420p`;
  ffmpeg([
    ...(start !== undefined ? ['-ss', String(start)] : []),
    '-i', input,
    ...(duration !== undefined ? ['-t', String(duration)] : []),
    '-an', '-vf', vf, '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', out,
  ]);
  if (!existsSync(out) || statSync(out).size === 0) throw new Error(`ffmpeg made no ${out}`);
  return out;
}

/** A still photo shown for `seconds` (default 10) as a .y4m: the printed-photo attack. */
export function stillToY4m(input: string, out: string, o: ClipOptions & { seconds?: number } = {}): string {
  const { width = 480, height = 640, fps = 15, seconds = 10 } = o;
  const vf = `scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height},fps=${fps},format=yuv420p`;
  ffmpeg(['-loop', '1', '-framerate', String(fps), '-i', input, '-t', String(seconds), '-an', '-vf', vf, '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', out]);
  if (!existsSync(out) || statSync(out).size === 0) throw new Error(`ffmpeg made no ${out}`);
  return out;
}

/** A synthetic clip (ffmpeg's test pattern), for tests that need a camera but no face. */
export function patternY4m(out: string, o: ClipOptions & { seconds?: number } = {}): string {
  const { width = 480, height = 640, fps = 15, seconds = 4 } = o;
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`, '-t', String(seconds), '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', out]);
  return out;
}

/**
 * A still photo shown for `seconds` (default 6) as an H.264 .mp4, as a phone's camera app would
 * hand the page a clip: the printed-photo attack in recorded-video mode. EXIF rotation is applied.
 */
export function stillToMp4(input: string, out: string, o: ClipOptions & { seconds?: number } = {}): string {
  const { width = 480, height = 640, fps = 15, seconds = 6 } = o;
  const vf = `scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height},fps=${fps},format=yuv420p`;
  ffmpeg(['-loop', '1', '-framerate', String(fps), '-i', input, '-t', String(seconds), '-an', '-vf', vf, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', out]);
  if (!existsSync(out) || statSync(out).size === 0) throw new Error(`ffmpeg made no ${out}`);
  return out;
}
