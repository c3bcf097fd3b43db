// Routes under /admin/, built from the typed modules; a guard loads the user once and keeps
// pages behind their permissions.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import './types';
import records from './modules/records';
import stats from './modules/stats';
import scenes from './modules/scenes';
import system from './modules/system';
import { useAuthStore } from '@/stores/auth';
import { me } from '@/api/auth';
import { i18n } from '@/locales';

/** The pages inside the layout, in menu order. */
export const menuRoutes: RouteRecordRaw[] = [...records, ...stats, ...scenes, system];

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/views/login/index.vue'), meta: { public: true, title: 'login.title' } },
  {
    path: '/',
    component: () => import('@/layout/index.vue'),
    children: [
      // Sent on by the guard to the first page the user may open (known once they are loaded).
      { path: '', name: 'home', component: { render: () => null } },
      ...menuRoutes,
      { path: '403', name: 'forbidden', component: () => import('@/views/error/index.vue'), props: { kind: 'forbidden' }, meta: { hidden: true } },
      { path: ':rest(.*)*', name: 'not-found', component: () => import('@/views/error/index.vue'), props: { kind: 'notFound' }, meta: { hidden: true } },
    ],
  },
];

/** The first menu page the user may open (after login, and for `/admin/`). */
export function firstAllowed(): string {
  const auth = useAuthStore();
  for (const r of menuRoutes) {
    if (r.meta?.hidden || !auth.can(r.meta?.perms)) continue;
    const child = r.children?.find((c) => auth.can(c.meta?.perms));
    return '/' + r.path + (child ? '/' + child.path : '');
  }
  return '/403';
}

export const router = createRouter({ history: createWebHistory('/admin/'), routes });

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  const auth = useAuthStore();
  if (!auth.me) {
    try {
      auth.set(await me());
    } catch {
      // 401 (no session) or any failure: sign in again, then come back here.
      return { name: 'login', query: { redirect: to.fullPath } };
    }
  }
  if (to.name === 'home') return firstAllowed();
  const denied = to.matched.some((r) => !auth.can(r.meta.perms));
  return denied ? { name: 'forbidden' } : true;
});

router.afterEach((to) => {
  const t = i18n.global.t;
  document.title = to.meta.title ? `${t(to.meta.title)} - ${t('app.short')}` : t('app.title');
});
