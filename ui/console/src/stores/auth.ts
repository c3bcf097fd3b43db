// The signed-in user: who, their permissions and CSRF token, and the tenant they look at.
import { defineStore } from 'pinia';
import type { Me } from '@/api/auth';

export const useAuthStore = defineStore('auth', {
  state: () => ({
    me: null as Me | null,
    csrf: null as string | null,
    /** the tenant chosen in the switcher (null: the user's own) */
    tenant: null as string | null,
  }),
  getters: {
    permissions: (s): Set<string> => new Set(s.me?.permissions ?? []),
  },
  actions: {
    set(me: Me, csrf?: string) {
      this.me = me;
      this.csrf = csrf ?? me.csrf_token ?? null;
    },
    clear() {
      this.me = null;
      this.csrf = null;
      this.tenant = null;
    },
    /** Any of the permissions (none asked: allowed). */
    can(perms?: string | string[]): boolean {
      if (!perms || (Array.isArray(perms) && perms.length === 0)) return true;
      const set = this.permissions;
      return (Array.isArray(perms) ? perms : [perms]).some((p) => set.has(p));
    },
  },
});
