import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

export interface Job {
  code: string;
  name?: string;
  cron: string;
  enabled: boolean;
  last_run_at?: string | null;
  next_run_at?: string | null;
  last_status?: string | null;
}

export interface JobRun {
  id: string;
  started_at: string;
  finished_at?: string | null;
  status: string;
  log?: string;
  trigger?: string;
}

export const listJobs = () => http.get<Page<Job> | Job[]>('/jobs');
export const updateJob = (code: string, j: { cron: string; enabled: boolean }) =>
  http.put<Job>(`/jobs/${encodeURIComponent(code)}`, j, { quiet: true });
export const runJob = (code: string) => http.post<JobRun | void>(`/jobs/${encodeURIComponent(code)}/run`);
export const listRuns = (code: string, q: { offset?: number; limit?: number }) =>
  http.get<Page<JobRun>>(`/jobs/${encodeURIComponent(code)}/runs`, q);
