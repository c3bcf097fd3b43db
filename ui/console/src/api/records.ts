import { http } from '@/utils/request';
import type { Page, Query } from '@/utils/http';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface RecordItem {
  id: string;
  tenant_id: string;
  scene_code: string;
  scene_version: number;
  session_id: string;
  biz_id: string;
  app_id: string;
  status: string;
  verdict: Verdict | null;
  reasons: string[];
  capture: string | null;
  created_at: string;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface TimelineStep {
  [k: string]: unknown;
}

export interface CallbackDelivery {
  status: string;
  attempts: number;
  last_status_code?: number | null;
  last_error?: string | null;
  [k: string]: unknown;
}

export interface RecordDetail extends RecordItem {
  scores: Record<string, number | null> | null;
  client: Record<string, unknown> | null;
  result: unknown;
  timeline: TimelineStep[];
  evidence: string[];
  callbacks: CallbackDelivery[];
}

export interface RecordQuery extends Query {
  from?: string;
  to?: string;
  scene?: string;
  app?: string;
  verdict?: string;
  status?: string;
  reason?: string;
  biz_id?: string;
  offset?: number;
  limit?: number;
}

export const listRecords = (q: RecordQuery) => http.get<Page<RecordItem>>('/records', q);
export const getRecord = (id: string) => http.get<RecordDetail>(`/records/${encodeURIComponent(id)}`);
export const evidenceUrl = (id: string, name: string) =>
  `/admin/api/v1/records/${encodeURIComponent(id)}/evidence/${encodeURIComponent(name)}`;
export const exportRecords = (format: 'csv' | 'xlsx', q: RecordQuery) =>
  http.download('/records/export', { ...q, format, offset: undefined, limit: undefined });
