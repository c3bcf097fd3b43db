import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

export interface DictType {
  type: string;
  name: string;
  name_en?: string;
  remark?: string;
}

export interface DictData {
  id?: string;
  type?: string;
  value: string;
  label: string;
  label_en?: string;
  sort?: number;
}

/** The dictionary types the console reads labels from (seeded by the server). */
export const DICT = {
  verdict: 'verdict',
  status: 'session_status',
  reason: 'reason',
  action: 'action',
  capture: 'capture',
} as const;

const t = (type: string) => `/dict/types/${encodeURIComponent(type)}`;

export const listTypes = () => http.get<Page<DictType> | DictType[]>('/dict/types');
export const createType = (d: DictType) => http.post<DictType>('/dict/types', d, { quiet: true });
export const updateType = (d: DictType) => http.put<DictType>(t(d.type), d, { quiet: true });
export const deleteType = (type: string) => http.del(t(type));
export const listData = (type: string, quiet = false) =>
  http.get<Page<DictData> | DictData[]>(`${t(type)}/data`, undefined, { quiet, noTenant: true });
export const createData = (type: string, d: DictData) => http.post<DictData>(`${t(type)}/data`, d, { quiet: true });
export const updateData = (type: string, d: DictData) =>
  http.put<DictData>(`${t(type)}/data/${encodeURIComponent(d.id ?? d.value)}`, d, { quiet: true });
export const deleteData = (type: string, d: DictData) => http.del(`${t(type)}/data/${encodeURIComponent(d.id ?? d.value)}`);
