import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

export interface Engine {
  name: string;
  version: string;
  kind: 'builtin' | 'plugin' | string;
  models: { name: string; sha256: string }[];
  health: string;
  p50_ms?: number | null;
  p95_ms?: number | null;
  queue_depth?: number | null;
}

export const listEngines = () => http.get<Page<Engine> | Engine[]>('/engines');
