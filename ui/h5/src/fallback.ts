// The scene's fallback rules as the page applies them (docs/h5-protocol.md §2, §7): when it may
// step down from real time to a recorded clip, and what triggers the step. Pure: no DOM.

import type { Challenge, Fallback, RecordingOffer } from './protocol/messages';

/** What the page did before scenes had fallback rules: real time, then a recording when enabled. */
const BEFORE_RULES: Fallback['triggers'] = { missing_capability: true, failures: 3, poor_network: false };

/** The challenge's fallback, or the page's old ways for a server or session without one. */
export function fallbackOf(challenge: Challenge): Fallback {
  if (challenge.fallback) return challenge.fallback;
  return { order: challenge.recording?.enabled ? ['action', 'recording'] : ['action'], triggers: BEFORE_RULES };
}

/** The recording offer when the page may step down to a recorded clip at all: the scene takes
 * uploads and its fallback order lists the recording. */
export function recordingStep(challenge: Challenge): RecordingOffer | null {
  const offer = challenge.recording;
  return offer?.enabled && fallbackOf(challenge).order.includes('recording') ? offer : null;
}

/** Whether a missing capability (no camera access, no WebSocket, an old WebView) steps down. */
export function stepsDownOnMissingCapability(challenge: Challenge): boolean {
  return recordingStep(challenge) !== null && fallbackOf(challenge).triggers.missing_capability;
}

/** After how many failed connections in a row the page steps down (never: Infinity). */
export function failuresBeforeStepDown(challenge: Challenge): number {
  return recordingStep(challenge) ? fallbackOf(challenge).triggers.failures : Infinity;
}

/** Whether the network the browser reports (`navigator.connection.effectiveType`) steps down
 * before real time starts. */
export function stepsDownOnNetwork(challenge: Challenge, effectiveType: string | undefined): boolean {
  const slow = effectiveType === '2g' || effectiveType === 'slow-2g';
  return slow && recordingStep(challenge) !== null && fallbackOf(challenge).triggers.poor_network;
}
