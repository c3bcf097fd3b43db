// Adaptive frame rate (docs/h5-protocol.md §3.5 `ack`): at most 2 frames unacknowledged, the rate
// lowered when acks lag and raised when they come quickly. Pure: the caller passes the time.

export const MAX_IN_FLIGHT = 2;

export interface RateState {
  minFps: number;
  maxFps: number;
  /** current target rate */
  fps: number;
  /** seq (as string) → send time, for frames not yet acknowledged */
  inFlight: Map<string, number>;
  /** when the last frame was sent (ms), or -Infinity */
  lastSentAt: number;
  /** smoothed ack round trip (ms), or null before the first ack */
  rttMs: number | null;
}

export function initialRate(minFps: number, maxFps: number, serverMaxFps = Infinity): RateState {
  const lo = Math.max(1, Math.min(minFps, maxFps));
  // Stay clear of the server's hard limit (4007 rate_exceeded counts arrivals per second).
  const hi = Math.max(lo, Math.min(maxFps, Number.isFinite(serverMaxFps) ? serverMaxFps - 2 : maxFps));
  return { minFps: lo, maxFps: hi, fps: lo + (hi - lo) / 2, inFlight: new Map(), lastSentAt: -Infinity, rttMs: null };
}

export const intervalMs = (s: RateState): number => 1000 / s.fps;

/** Whether a frame may be taken now. */
export function canSend(s: RateState, now: number): boolean {
  return s.inFlight.size < MAX_IN_FLIGHT && now - s.lastSentAt >= intervalMs(s) - 1;
}

/** How long until a frame may be taken (0 = now), ignoring the in-flight cap. */
export function waitMs(s: RateState, now: number): number {
  return Math.max(0, s.lastSentAt + intervalMs(s) - now);
}

export function onSent(s: RateState, seq: bigint | number, now: number): RateState {
  const inFlight = new Map(s.inFlight);
  inFlight.set(String(seq), now);
  return { ...s, inFlight, lastSentAt: now };
}

/**
 * An ack for `seq` (acks also cover older frames: the server accepts in order). The rate falls
 * by a fifth when the round trip exceeds 1.5 frame intervals and rises by one frame per second
 * when it is under half an interval.
 */
export function onAck(s: RateState, seq: bigint | number, now: number): RateState {
  const key = String(seq);
  const sentAt = s.inFlight.get(key);
  const inFlight = new Map(s.inFlight);
  const acked = BigInt(seq);
  for (const k of s.inFlight.keys()) if (BigInt(k) <= acked) inFlight.delete(k);
  if (sentAt === undefined) return { ...s, inFlight };
  const rtt = now - sentAt;
  const rttMs = s.rttMs === null ? rtt : s.rttMs * 0.7 + rtt * 0.3;
  const iv = 1000 / s.fps;
  let fps = s.fps;
  if (rttMs > iv * 1.5) fps = Math.max(s.minFps, s.fps * 0.8);
  else if (rttMs < iv * 0.5) fps = Math.min(s.maxFps, s.fps + 1);
  return { ...s, inFlight, rttMs, fps };
}

/** A frame was due but the in-flight cap held it back: acks lag, slow down. */
export function onStalled(s: RateState): RateState {
  return { ...s, fps: Math.max(s.minFps, s.fps * 0.8) };
}

/** After a reconnect: frames sent but not acknowledged are stale and dropped (§5). */
export function onReconnect(s: RateState): RateState {
  return { ...s, inFlight: new Map(), lastSentAt: -Infinity };
}
