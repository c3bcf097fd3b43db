import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

export interface App {
  app_id: string;
  name: string;
  /** The server's: `active` or `disabled`. */
  status?: 'active' | 'disabled' | string;
  enabled?: boolean;
  created_at?: string;
}

export const listApps = (q: { offset?: number; limit?: number } = {}) => http.get<Page<App>>('/apps', q);
/** The apps for a filter's drop-down (quiet, like sceneOptions). */
export const appOptions = () => http.get<Page<App>>('/apps', { limit: 500 }, { quiet: true });
/** The answer holds the secret: shown once, never again. */
export const createApp = (a: { name: string }) => http.post<App & { secret: string }>('/apps', a, { quiet: true });
export const disableApp = (id: string) => http.post<App>(`/apps/${encodeURIComponent(id)}/disable`);
