// A scene's fallback rules (src/scenes.rs FallbackRules, docs/scenes.md).
import type { SceneRules } from '@/api/scenes';

export const METHODS = ['action', 'silent', 'recording'] as const;
export type Method = (typeof METHODS)[number];

export interface FallbackRules {
  order?: string[];
  triggers?: { missing_capability?: boolean; failures?: number; poor_network?: boolean };
}

/** The order the server uses when a scene names none: its real-time modes, then a recording. */
export function defaultOrder(rules: SceneRules): Method[] {
  const modes = Array.isArray(rules.modes) ? (rules.modes as string[]) : ['action'];
  const order: Method[] = [];
  for (const m of modes) {
    const method: Method | null = m === 'silent' ? 'silent' : m === 'action' || m === 'colour' ? 'action' : null;
    if (method && !order.includes(method)) order.push(method);
  }
  const recording = rules.recording as { enabled?: boolean } | undefined;
  if (recording?.enabled) order.push('recording');
  return order;
}
