import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

/** A scene's rules (docs/scenes.md): kept loose, the server checks them. */
export type SceneRules = Record<string, unknown>;

export interface Scene {
  code: string;
  name: string;
  version: number;
  /** The server's: `active` or `disabled`. */
  status?: 'active' | 'disabled' | string;
  enabled?: boolean;
  /** Only on `GET /scenes/{code}`; the list's summaries carry `modes` and `compare_engine`. */
  config?: SceneRules;
  modes?: string[];
  compare_engine?: 'builtin' | 'http' | null;
  updated_at?: string;
}

export interface SceneVersion {
  version: number;
  name?: string;
  config?: SceneRules;
  created_at?: string;
  created_by?: string;
}

export const listScenes = (q: { offset?: number; limit?: number } = {}) => http.get<Page<Scene>>('/scenes', q);
/** The scenes for a filter's drop-down: a failure leaves the drop-down empty, unannounced. */
export const sceneOptions = () => http.get<Page<Scene>>('/scenes', { limit: 500 }, { quiet: true });
export const getScene = (code: string) => http.get<Scene>(`/scenes/${encodeURIComponent(code)}`);
export const createScene = (s: { code: string; name: string; config: SceneRules }) =>
  http.post<Scene>('/scenes', s, { quiet: true });
export const updateScene = (code: string, s: { name: string; config: SceneRules; version: number }) =>
  http.put<Scene>(`/scenes/${encodeURIComponent(code)}`, s, { quiet: true });
export const disableScene = (code: string) => http.post<Scene>(`/scenes/${encodeURIComponent(code)}/disable`);
export const enableScene = (code: string) => http.post<Scene>(`/scenes/${encodeURIComponent(code)}/enable`);
export const listVersions = (code: string) =>
  http.get<Page<SceneVersion> | SceneVersion[]>(`/scenes/${encodeURIComponent(code)}/versions`);
export const getVersion = (code: string, n: number) =>
  http.get<SceneVersion>(`/scenes/${encodeURIComponent(code)}/versions/${n}`);
