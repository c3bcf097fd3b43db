import { http } from '@/utils/request';
import type { Page, Query } from '@/utils/http';

export interface AuditEntry {
  id: string;
  at: string;
  username?: string;
  user_id?: string;
  tenant_id?: string;
  action: string;
  target?: string;
  ip?: string;
}

export const listAudit = (q: Query) => http.get<Page<AuditEntry>>('/audit', q);
