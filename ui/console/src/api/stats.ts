import { http } from '@/utils/request';
import type { Query } from '@/utils/http';

export interface StatsSummary {
  total: number;
  pass: number;
  fail: number;
  inconclusive: number;
  pass_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

export interface StatsSeries {
  buckets: string[];
  series: { key: string; total: number[]; pass: number[] }[];
}

export interface ReasonCount {
  reason?: string;
  code?: string;
  kind?: string;
  count: number;
}

/** `/stats/reasons`: every reason code with its count; `kind` tells attacks from failures. */
export interface StatsReasons {
  total?: number;
  failed?: number;
  reasons: (ReasonCount & { kind?: 'attack' | 'failure' | string; share?: number | null })[];
}

export interface StatsQuery extends Query {
  from?: string;
  to?: string;
  scene?: string;
  app?: string;
}

export const summary = (q: StatsQuery) => http.get<StatsSummary>('/stats/summary', q);
export const series = (q: StatsQuery & { bucket: 'hour' | 'day'; by: string }) => http.get<StatsSeries>('/stats/series', q);
export const reasons = (q: StatsQuery) => http.get<StatsReasons>('/stats/reasons', q);
