import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

export interface Tenant {
  id: string;
  code: string;
  name: string;
  parent_id?: string | null;
  created_at?: string;
}

export const listTenants = (q: { offset?: number; limit?: number } = {}) =>
  http.get<Page<Tenant>>('/tenants', q, { noTenant: true });
export const createTenant = (t: { code: string; name: string; parent_id?: string | null }) =>
  http.post<Tenant>('/tenants', t, { quiet: true });
