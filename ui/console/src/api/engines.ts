import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

/** The model-worker pool both built-in engines run in (docs/admin-api.md), or its error. */
export interface EnginePool {
  workers?: number;
  busy?: number;
  load?: number;
  queue_depth?: number;
  queue_max?: number;
  jobs_done?: number;
  rejected?: number;
  restarts?: number;
  latency_ms?: { p50: number | null; p95: number | null } | null;
  error?: string;
}

/** An engine of this node: a built-in one, or a scene's HTTP compare service (`plugin`). */
export interface Engine {
  name: string;
  kind: 'builtin' | 'plugin' | string;
  role?: 'liveness' | 'compare' | string;
  version: string | null;
  runtime?: string;
  models: { file: string; sha256: string }[];
  health: 'ok' | 'degraded' | 'down' | string;
  pool?: EnginePool;
  /** Plugins: the scene and its URL, and this node's circuit breaker for it. */
  scene?: string;
  url?: string;
  breaker?: { state: 'closed' | 'open' | 'half_open'; failures?: number; retry_in_s?: number };
}

export const listEngines = () => http.get<Page<Engine> | Engine[]>('/engines');
