// The .y4m helpers: a clip from a video and a still photo held for 10 s, made in a temp folder.
import { readFileSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasFfmpeg, mediaDir, stillToY4m, tempDir, videoToY4m } from './media';

const media = mediaDir();
const skip = !hasFfmpeg() ? 'ffmpeg is not installed' : 'skip' in media ? media.skip : null;
if (skip) console.warn(`e2e media helpers skipped: ${skip}`);

function y4mHeader(file: string): string {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(120);
  readSync(fd, buf, 0, 120, 0);
  closeSync(fd);
  return buf.toString('latin1').split('\n')[0]!;
}

describe.skipIf(skip !== null)('fake-camera clips', () => {
  // Made in beforeAll: a skipped suite leaves no folder behind.
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp?.cleanup());
  const dir = 'dir' in media ? media.dir : '';

  it('a portrait 480x640 15 fps y4m from a video', () => {
    const out = videoToY4m(join(dir, 'Blink-Detector_repeating/video.mp4'), join(tmp.dir, 'blink.y4m'), { duration: 2 });
    const head = y4mHeader(out);
    expect(head).toMatch(/^YUV4MPEG2 W480 H640 F15:1/);
    // 2 s at 15 fps of 480x640 yuv420p frames (+ headers)
    expect(statSync(out).size).toBeGreaterThanOrEqual(30 * 480 * 640 * 1.5);
    expect(out.startsWith(tmp.dir)).toBe(true);
  });

  it('a still photo held for 10 s', () => {
    const out = stillToY4m(join(dir, 'face_recognition/obama.jpg'), join(tmp.dir, 'still.y4m'));
    expect(y4mHeader(out)).toMatch(/^YUV4MPEG2 W480 H640 F15:1/);
    const frames = readFileSync(out).toString('latin1').split('FRAME').length - 1;
    expect(frames).toBe(150);
  });
});
