import { http } from '@/utils/request';
import type { Page } from '@/utils/http';

export interface User {
  id: string;
  username: string;
  display_name?: string;
  tenant_id?: string;
  roles: string[];
  /** `active` or `disabled` */
  status?: string;
  enabled?: boolean;
  locked_until?: string | null;
  last_login_at?: string | null;
  created_at?: string;
}

export interface Role {
  code: string;
  name: string;
  permissions: string[];
  builtin?: boolean;
}

export const listUsers = (q: { offset?: number; limit?: number }) => http.get<Page<User>>('/users', q);
export const createUser = (u: { username: string; display_name?: string; password: string; roles: string[] }) =>
  http.post<User>('/users', u, { quiet: true });
export const updateUser = (id: string, u: { display_name?: string; roles: string[] }) =>
  http.put<User>(`/users/${encodeURIComponent(id)}`, u, { quiet: true });
export const disableUser = (id: string) => http.post<User>(`/users/${encodeURIComponent(id)}/disable`);
export const unlockUser = (id: string) => http.post<User>(`/users/${encodeURIComponent(id)}/unlock`);
export const listRoles = () => http.get<Page<Role> | Role[]>('/roles');
