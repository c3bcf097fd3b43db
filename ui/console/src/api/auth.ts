import { http } from '@/utils/request';

export interface TenantRef {
  id: string;
  code: string;
  name: string;
}

export interface Me {
  id: string;
  username: string;
  display_name?: string;
  tenant: TenantRef;
  roles: string[];
  permissions: string[];
  csrf_token?: string;
}

export const login = (username: string, password: string) =>
  http.post<{ user: Me; csrf_token: string }>('/auth/login', { username, password }, { quiet: true });
export const me = () => http.get<Me>('/auth/me', undefined, { quiet: true, noTenant: true, noAuthRedirect: true });
export const logout = () => http.post<void>('/auth/logout');
export const changePassword = (old_password: string, new_password: string) =>
  http.post<void>('/auth/password', { old_password, new_password }, { quiet: true });
