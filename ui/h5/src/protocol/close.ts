// The WebSocket closing codes (docs/h5-protocol.md §3.6, §5): what the page does for each. Pure.

/** What the page does on a closed socket. */
export type CloseAction =
  /** the result was sent (or is fetched): show the end screen */
  | 'result'
  /** reconnect with back-off and resume with the same key */
  | 'reconnect'
  /** the session is over without a result here: ask the server for it, else show the message */
  | 'ended'
  /** stop: show the message; the link may still work in the right place */
  | 'stop';

export interface CloseInfo {
  code: number;
  reason: string;
  action: CloseAction;
  /** key of the message the page shows (see i18n.ts) */
  message: MessageKey;
}

export type MessageKey =
  | 'close_done'
  | 'close_reconnecting'
  | 'close_protocol'
  | 'close_key_mismatch'
  | 'close_limits'
  | 'close_session_ended'
  | 'close_expired'
  | 'close_superseded'
  | 'close_unknown';

const TABLE: ReadonlyArray<readonly [number, string, CloseAction, MessageKey]> = [
  [1000, 'done', 'result', 'close_done'],
  [1001, 'going_away', 'reconnect', 'close_reconnecting'],
  [1005, 'no_status', 'reconnect', 'close_reconnecting'],
  [1006, 'abnormal', 'reconnect', 'close_reconnecting'],
  [1011, 'internal_error', 'reconnect', 'close_reconnecting'],
  [4000, 'bad_message', 'stop', 'close_protocol'],
  [4001, 'unsupported_suite', 'stop', 'close_protocol'],
  [4002, 'bad_key', 'stop', 'close_protocol'],
  [4003, 'key_mismatch', 'stop', 'close_key_mismatch'],
  [4004, 'open_failed', 'stop', 'close_protocol'],
  [4005, 'replay', 'stop', 'close_protocol'],
  [4006, 'frame_too_large', 'stop', 'close_protocol'],
  [4007, 'rate_exceeded', 'stop', 'close_protocol'],
  [4008, 'too_many_frames', 'ended', 'close_limits'],
  [4009, 'bytes_exceeded', 'ended', 'close_limits'],
  [4010, 'duration_exceeded', 'ended', 'close_limits'],
  [4011, 'session_ended', 'ended', 'close_session_ended'],
  [4012, 'session_expired', 'stop', 'close_expired'],
  [4013, 'superseded', 'stop', 'close_superseded'],
  [4014, 'handshake_timeout', 'reconnect', 'close_reconnecting'],
];

export const CLOSE_CODES: ReadonlyMap<number, CloseInfo> = new Map(
  TABLE.map(([code, reason, action, message]) => [code, { code, reason, action, message }]),
);

/** What to do for a close code; an unknown code is treated as a dropped connection below 4000, else a stop. */
export function closeInfo(code: number, reason = ''): CloseInfo {
  const known = CLOSE_CODES.get(code);
  if (known) return known;
  if (code < 4000) return { code, reason, action: 'reconnect', message: 'close_reconnecting' };
  return { code, reason, action: 'stop', message: 'close_unknown' };
}

/** Back-off before reconnect attempt `attempt` (0-based): 0.5, 1, 2, 4, 4, … s; null once 30 s are spent. */
export function backoffMs(attempt: number, spentMs: number, budgetMs = 30_000): number | null {
  const delay = Math.min(500 * 2 ** attempt, 4000);
  return spentMs + delay > budgetMs ? null : delay;
}
