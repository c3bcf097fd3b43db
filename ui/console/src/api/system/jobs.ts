import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

/** A scheduled job (docs/admin-api.md `Job`). */
export interface Job {
  code: string;
  name_zh: string;
  name_en: string;
  description_zh?: string;
  description_en?: string;
  cron: string;
  default_cron?: string;
  enabled: boolean;
  last_run_at?: string | null;
  next_run_at?: string | null;
  last_status?: 'ok' | 'failed' | null;
  /** A node holds it now. */
  running?: boolean;
  running_on?: string | null;
}

/** One run of a job (docs/admin-api.md `JobRun`). */
export interface JobRun {
  id: string;
  job_code?: string;
  trigger?: 'schedule' | 'manual';
  requested_by?: string | null;
  node?: string;
  started_at: string;
  finished_at?: string | null;
  status: 'running' | 'ok' | 'failed';
  log?: string;
}

export const listJobs = () => http.get<Page<Job> | Job[]>('/jobs');
export const updateJob = (code: string, j: { cron: string; enabled: boolean }) =>
  http.put<Job>(`/jobs/${encodeURIComponent(code)}`, j, { quiet: true });
export const runJob = (code: string) => http.post<JobRun | void>(`/jobs/${encodeURIComponent(code)}/run`);
export const listRuns = (code: string, q: { offset?: number; limit?: number }) =>
  http.get<Page<JobRun>>(`/jobs/${encodeURIComponent(code)}/runs`, q);
