import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

/** A dictionary type (docs/admin-api.md `DictType`). */
export interface DictType {
  code: string;
  name_zh: string;
  name_en: string;
  status?: 'enabled' | 'disabled';
  /** Seeded by the server: its entries may be relabelled, not deleted. */
  builtin?: boolean;
}

/** An entry of a type (docs/admin-api.md `DictItem`). */
export interface DictData {
  id?: string;
  type_code?: string;
  value: string;
  label_zh: string;
  label_en: string;
  sort?: number;
  status?: 'enabled' | 'disabled';
  builtin?: boolean;
}

/** The dictionary types the console reads labels from (seeded by the server). */
export const DICT = {
  verdict: 'verdict',
  /** A record's status (pending, running, finished, failed, expired). */
  status: 'record_status',
  reason: 'reason',
  action: 'action',
  capture: 'capture',
} as const;

const t = (type: string) => `/dict/types/${encodeURIComponent(type)}`;

export const listTypes = () => http.get<Page<DictType> | DictType[]>('/dict/types');
export const createType = (d: Pick<DictType, 'code' | 'name_zh' | 'name_en'>) => http.post<DictType>('/dict/types', d, { quiet: true });
export const listData = (type: string, quiet = false) =>
  http.get<Page<DictData> | DictData[]>(`${t(type)}/data`, undefined, { quiet, noTenant: true });
export const createData = (type: string, d: DictData) =>
  http.post<DictData>(`${t(type)}/data`, { value: d.value, label_zh: d.label_zh, label_en: d.label_en, sort: d.sort ?? 0 }, { quiet: true });
/** The value never changes (records hold it): the server refuses a body that names it. */
export const updateData = (type: string, d: DictData) =>
  http.put<DictData>(`${t(type)}/data/${encodeURIComponent(d.id ?? d.value)}`, { label_zh: d.label_zh, label_en: d.label_en, sort: d.sort, status: d.status }, { quiet: true });
export const deleteData = (type: string, d: DictData) => http.del(`${t(type)}/data/${encodeURIComponent(d.id ?? d.value)}`);
