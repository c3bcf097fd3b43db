import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

/** A typed system property (docs/admin-api.md `Property`). */
export interface Property {
  key: string;
  kind: 'int' | 'bool' | 'string' | 'duration_s';
  /** In force. */
  value: string | number | boolean;
  default?: string | number | boolean;
  min?: number;
  max?: number;
  allowed?: string[];
  max_chars?: number;
  name_zh?: string;
  name_en?: string;
  description_zh?: string;
  description_en?: string;
  /** Null while the default holds. */
  updated_by?: string | null;
  updated_at?: string;
}

export const listProperties = () => http.get<Page<Property> | Property[]>('/system/properties');
export const setProperty = (key: string, value: Property['value']) =>
  http.put<Property>(`/system/properties/${encodeURIComponent(key)}`, { value }, { quiet: true });
