import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

export interface Property {
  key: string;
  type: 'int' | 'bool' | 'string' | 'duration_s';
  value: string | number | boolean;
  description?: string;
  description_zh?: string;
  updated_at?: string;
}

export const listProperties = () => http.get<Page<Property> | Property[]>('/system/properties');
export const setProperty = (key: string, value: Property['value']) =>
  http.put<Property>(`/system/properties/${encodeURIComponent(key)}`, { value }, { quiet: true });
