// Colour flash (炫彩活体): the page lights the screen around the face oval with the server's
// colour sequence and tags each frame with the step on screen when it was captured
// (docs/h5-protocol.md §2 `flash`, §3.4 the header's `flash` byte: 0 = none, i + 1 = step i).

/** One step as the challenge gives it. */
export interface FlashStep {
  /** the header byte for frames captured while it is on screen (1, 2, ...) */
  tag: number;
  colour: string;
  /** `#rrggbb` */
  rgb: string;
  ms: number;
}

/** The challenge's `flash`, checked; null when absent or malformed (the page then never flashes). */
export function parseFlashPlan(v: unknown): FlashStep[] | null {
  if (typeof v !== 'object' || v === null) return null;
  const steps = (v as { steps?: unknown }).steps;
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > 255) return null;
  const out: FlashStep[] = [];
  for (const [i, s] of steps.entries()) {
    if (typeof s !== 'object' || s === null) return null;
    const { tag, colour, rgb, ms } = s as Record<string, unknown>;
    if (tag !== i + 1 || typeof colour !== 'string' || typeof rgb !== 'string' || !/^#[0-9a-f]{6}$/i.test(rgb)) return null;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > 5000) return null;
    out.push({ tag, colour, rgb, ms });
  }
  return out;
}

/** How long the page shows "hold still, close to the screen" before the first colour, ms. */
export const FLASH_LEAD_MS = 600;

/** The tag on screen `elapsedMs` after the first step was shown: 0 before and after the sequence. */
export function tagAt(steps: readonly FlashStep[], elapsedMs: number): number {
  if (elapsedMs < 0) return 0;
  let end = 0;
  for (const s of steps) {
    end += s.ms;
    if (elapsedMs < end) return s.tag;
  }
  return 0;
}

/** The whole sequence's length, ms. */
export function totalMs(steps: readonly FlashStep[]): number {
  return steps.reduce((sum, s) => sum + s.ms, 0);
}

/**
 * The overlay's background: the colour everywhere but an oval around the face (the same place as
 * the page's face guide), so the screen lights the face at full brightness while the person still
 * sees themselves.
 */
export function overlayBackground(rgb: string): string {
  return `radial-gradient(ellipse 36% 30% at 50% 42%, transparent 97%, ${rgb} 100%)`;
}

/** What the player needs from the page: timers and a clock (fakes in tests). */
export interface FlashClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: FlashClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Shows the sequence on a full-screen overlay, one colour after the other, and says which step is
 * on screen now. The tag changes in the same task as the overlay's colour, so a frame grabbed
 * after a change carries the new tag; the camera's own latency (a frame or two) is the server's
 * to allow for.
 */
export class FlashPlayer {
  private index = -1;
  private handle: unknown = null;
  private done = false;
  /** every colour shown, in order, with when (for tests and the record of what was on screen) */
  readonly shown: { tag: number; rgb: string; at: number }[] = [];

  constructor(
    private readonly overlay: HTMLElement,
    private readonly steps: readonly FlashStep[],
    private readonly clock: FlashClock = realClock,
  ) {}

  /** Starts the sequence; `onDone` runs once the last colour is off the screen. */
  start(onDone: () => void = () => {}): void {
    if (this.index >= 0 || this.done) return;
    this.overlay.hidden = false;
    this.overlay.dataset.flashing = 'true';
    const next = () => {
      this.index += 1;
      const step = this.steps[this.index];
      if (!step) {
        this.stop();
        onDone();
        return;
      }
      this.overlay.style.background = overlayBackground(step.rgb);
      this.overlay.dataset.tag = String(step.tag);
      this.shown.push({ tag: step.tag, rgb: step.rgb, at: this.clock.now() });
      this.handle = this.clock.setTimeout(next, step.ms);
    };
    next();
  }

  /** The `flash` byte for a frame captured now. */
  currentTag(): number {
    if (this.done || this.index < 0) return 0;
    return this.steps[this.index]?.tag ?? 0;
  }

  /** Whether the sequence is on screen. */
  get running(): boolean {
    return this.index >= 0 && !this.done;
  }

  /** Takes the overlay away (the end of the sequence, or the session ending early). */
  stop(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.done = true;
    this.overlay.hidden = true;
    this.overlay.style.background = '';
    this.overlay.dataset.flashing = 'false';
    this.overlay.dataset.tag = '0';
  }
}

/** The overlay element, created once and kept above the video (its oval leaves the face visible). */
export function flashOverlay(doc: Document = document): HTMLElement {
  const found = doc.getElementById('flash-overlay');
  if (found) return found;
  const el = doc.createElement('div');
  el.id = 'flash-overlay';
  el.hidden = true;
  el.setAttribute('aria-hidden', 'true');
  // Inline so the page's stylesheet need not know: fixed, full screen, on top, click-through.
  el.style.cssText = 'position:fixed;inset:0;z-index:50;pointer-events:none;';
  doc.body.appendChild(el);
  return el;
}
