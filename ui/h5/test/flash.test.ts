import { describe, expect, it } from 'vitest';
import { FlashPlayer, overlayBackground, parseFlashPlan, tagAt, totalMs, type FlashClock, type FlashStep } from '../src/flash';
import { parseServerMessage } from '../src/protocol/messages';

const STEPS: FlashStep[] = [
  { tag: 1, colour: 'red', rgb: '#ff0000', ms: 200 },
  { tag: 2, colour: 'cyan', rgb: '#00ffff', ms: 150 },
  { tag: 3, colour: 'yellow', rgb: '#ffff00', ms: 300 },
];

/** A clock whose time moves only when the test says. */
class FakeClock implements FlashClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

function fakeOverlay() {
  return { hidden: true, style: { background: '' }, dataset: {} as Record<string, string> } as unknown as HTMLElement;
}

describe('the flash plan', () => {
  it('reads the challenge and refuses anything malformed', () => {
    expect(parseFlashPlan({ steps: STEPS })).toEqual(STEPS);
    expect(parseFlashPlan(null)).toBeNull();
    expect(parseFlashPlan({ steps: [] })).toBeNull();
    // Tags must count 1, 2, 3 in order: they are the frames' header byte.
    expect(parseFlashPlan({ steps: [STEPS[1]] })).toBeNull();
    expect(parseFlashPlan({ steps: [{ ...STEPS[0], rgb: 'red' }] })).toBeNull();
    expect(parseFlashPlan({ steps: [{ ...STEPS[0], ms: -5 }] })).toBeNull();
  });

  it('says which step is on screen at any time, 0 before and after', () => {
    expect(tagAt(STEPS, -1)).toBe(0);
    expect(tagAt(STEPS, 0)).toBe(1);
    expect(tagAt(STEPS, 199)).toBe(1);
    expect(tagAt(STEPS, 200)).toBe(2);
    expect(tagAt(STEPS, 349)).toBe(2);
    expect(tagAt(STEPS, 350)).toBe(3);
    expect(tagAt(STEPS, 649)).toBe(3);
    expect(tagAt(STEPS, 650)).toBe(0);
    expect(totalMs(STEPS)).toBe(650);
  });

  it('cuts an oval for the face out of the colour', () => {
    expect(overlayBackground('#ff0000')).toMatch(/^radial-gradient\(ellipse .*transparent .*#ff0000 100%\)$/);
  });

  it('parses the server telling the page to flash', () => {
    expect(parseServerMessage('{"type":"flash","text":"请保持不动，脸靠近屏幕"}')).toEqual({ type: 'flash', text: '请保持不动，脸靠近屏幕' });
  });
});

describe('the flash player', () => {
  it('shows each colour for its time, in order, and tags frames with the step on screen', () => {
    const clock = new FakeClock();
    const overlay = fakeOverlay();
    const player = new FlashPlayer(overlay, STEPS, clock);
    let done = false;
    expect(player.currentTag()).toBe(0);
    player.start(() => (done = true));
    expect(overlay.hidden).toBe(false);
    const tags: number[] = [];
    // A frame grabbed every 50 ms, as a 20 fps page would.
    for (let i = 0; i < 16; i++) {
      tags.push(player.currentTag());
      clock.advance(50);
    }
    expect(tags).toEqual([1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 0, 0, 0]);
    expect(player.shown.map((s) => [s.rgb, s.at])).toEqual([
      ['#ff0000', 0],
      ['#00ffff', 200],
      ['#ffff00', 350],
    ]);
    expect(done).toBe(true);
    expect(overlay.hidden).toBe(true);
    expect(overlay.style.background).toBe('');
    // Tags agree with the schedule the server checks against.
    for (let ms = 0; ms < 700; ms += 10) {
      const clock2 = new FakeClock();
      const p2 = new FlashPlayer(fakeOverlay(), STEPS, clock2);
      p2.start();
      clock2.advance(ms);
      expect(p2.currentTag()).toBe(tagAt(STEPS, ms));
    }
  });

  it('stops at once when the session ends early, and never starts twice', () => {
    const clock = new FakeClock();
    const overlay = fakeOverlay();
    const player = new FlashPlayer(overlay, STEPS, clock);
    player.start();
    clock.advance(100);
    player.start();
    expect(player.shown).toHaveLength(1);
    player.stop();
    expect(player.currentTag()).toBe(0);
    clock.advance(1000);
    expect(player.shown).toHaveLength(1);
    expect(overlay.hidden).toBe(true);
  });
});
