// The scene's fallback rules as the page applies them (src/fallback.ts, docs/h5-protocol.md §2).
import { describe, expect, it } from 'vitest';
import { failuresBeforeStepDown, fallbackOf, recordingStep, stepsDownOnMissingCapability, stepsDownOnNetwork } from '../src/fallback';
import { parseChallenge, type Challenge } from '../src/protocol/messages';

const RECORDING = { enabled: true, max_bytes: 20971520, max_s: 30, chunk_bytes: 262144 };

function challenge(extra: Record<string, unknown>): Challenge {
  const c = parseChallenge({
    session_id: '0193',
    status: 'pending',
    suites: ['X25519-CHACHA20POLY1305-SHA256'],
    server_key: 'k',
    mode: 'action',
    steps: [],
    capture: { width: 480, height: 640, jpeg_quality: 0.8, min_fps: 8, max_fps: 15 },
    limits: {},
    expires_at: '2026-11-25T08:00:00Z',
    lang: 'zh-CN',
    ws_path: '/h5/v1/sessions/0193/ws',
    ...extra,
  });
  if (!c) throw new Error('challenge did not parse');
  return c;
}

describe('fallback rules', () => {
  it('without rules the page keeps its old ways: a recording after 3 failures or a missing capability', () => {
    const old = challenge({ recording: RECORDING });
    expect(fallbackOf(old).order).toEqual(['action', 'recording']);
    expect(recordingStep(old)).toEqual(RECORDING);
    expect(stepsDownOnMissingCapability(old)).toBe(true);
    expect(failuresBeforeStepDown(old)).toBe(3);
    expect(stepsDownOnNetwork(old, '2g')).toBe(false);
    const none = challenge({});
    expect(recordingStep(none)).toBeNull();
    expect(failuresBeforeStepDown(none)).toBe(Infinity);
  });

  it('honours the triggers the scene sets', () => {
    const c = challenge({
      recording: RECORDING,
      fallback: { order: ['action', 'recording'], triggers: { missing_capability: false, failures: 2, poor_network: true } },
    });
    expect(failuresBeforeStepDown(c)).toBe(2);
    expect(stepsDownOnMissingCapability(c)).toBe(false);
    expect(stepsDownOnNetwork(c, 'slow-2g')).toBe(true);
    expect(stepsDownOnNetwork(c, '2g')).toBe(true);
    expect(stepsDownOnNetwork(c, '4g')).toBe(false);
    expect(stepsDownOnNetwork(c, undefined)).toBe(false);
  });

  it('never steps down to a recording the order leaves out or the scene does not take', () => {
    const left = challenge({
      recording: RECORDING,
      fallback: { order: ['action'], triggers: { missing_capability: true, failures: 1, poor_network: true } },
    });
    expect(recordingStep(left)).toBeNull();
    expect(stepsDownOnMissingCapability(left)).toBe(false);
    expect(failuresBeforeStepDown(left)).toBe(Infinity);
    expect(stepsDownOnNetwork(left, '2g')).toBe(false);
    const off = challenge({
      recording: { ...RECORDING, enabled: false },
      fallback: { order: ['action', 'recording'], triggers: { missing_capability: true, failures: 1, poor_network: true } },
    });
    expect(recordingStep(off)).toBeNull();
  });

  it('a malformed fallback is ignored rather than trusted', () => {
    for (const bad of [
      { order: 'action', triggers: { missing_capability: true, failures: 3, poor_network: false } },
      { order: ['action'], triggers: { missing_capability: true, failures: 0, poor_network: false } },
      { order: ['action'], triggers: { missing_capability: 'yes', failures: 3, poor_network: false } },
      { order: ['action'] },
    ]) {
      expect(challenge({ fallback: bad }).fallback).toBeUndefined();
    }
  });
});
