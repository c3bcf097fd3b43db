import type { RouteRecordRaw } from 'vue-router';

/** 系统管理: one menu group. */
export default {
  path: 'system',
  name: 'system',
  redirect: { name: 'users' },
  meta: {
    title: 'menu.system',
    icon: 'Setting',
    perms: ['users:read', 'tenants:read', 'apps:read', 'system:read', 'jobs:read', 'audit:read'],
  },
  children: [
    { path: 'users', name: 'users', component: () => import('@/views/system/users/index.vue'), meta: { title: 'menu.users', perms: ['users:read'] } },
    { path: 'roles', name: 'roles', component: () => import('@/views/system/roles/index.vue'), meta: { title: 'menu.roles', perms: ['users:read'] } },
    { path: 'tenants', name: 'tenants', component: () => import('@/views/system/tenants/index.vue'), meta: { title: 'menu.tenants', perms: ['tenants:read'] } },
    { path: 'apps', name: 'apps', component: () => import('@/views/system/apps/index.vue'), meta: { title: 'menu.apps', perms: ['apps:read'] } },
    { path: 'properties', name: 'properties', component: () => import('@/views/system/properties/index.vue'), meta: { title: 'menu.properties', perms: ['system:read'] } },
    { path: 'dict', name: 'dict', component: () => import('@/views/system/dict/index.vue'), meta: { title: 'menu.dict', perms: ['system:read'] } },
    { path: 'jobs', name: 'jobs', component: () => import('@/views/system/jobs/index.vue'), meta: { title: 'menu.jobs', perms: ['jobs:read'] } },
    { path: 'audit', name: 'audit', component: () => import('@/views/system/audit/index.vue'), meta: { title: 'menu.audit', perms: ['audit:read'] } },
  ],
} satisfies RouteRecordRaw;
