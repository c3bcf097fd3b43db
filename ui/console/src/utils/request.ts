// The console's one Http instance, wired to the session (CSRF token, tenant), the language and
// the login page.
import { ElMessage } from '@/utils/feedback';
import { createHttp } from './http';
import { currentLang } from '@/locales';
import { useAuthStore } from '@/stores/auth';

export const API_BASE = '/admin/api/v1';

export const http = createHttp({
  base: API_BASE,
  lang: currentLang,
  csrf: () => useAuthStore().csrf,
  tenant: () => useAuthStore().tenant,
  onUnauthorized: () => {
    useAuthStore().clear();
    // A full load of the login page: every view's state of the old session is dropped.
    const here = location.pathname + location.search;
    if (!location.pathname.startsWith('/admin/login')) {
      location.assign(`/admin/login?redirect=${encodeURIComponent(here)}`);
    }
  },
  onError: (message) => {
    ElMessage({ type: 'error', message, grouping: true });
  },
});
